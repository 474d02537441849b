"""The Dagster sensor a generated domain wires in: its erasure worker, on a timer.

``erasure_sensor(domain, contracts_dir)`` is a sensor that, on each tick, asks the
registry for this domain's open erasure requests and carries them out
(``ErasureWorker.run_once``) in the tick itself — an erasure is a few deletes, not a
run. It needs ``MESHKIT_REGISTRY_URL`` and ``MESHKIT_REGISTRY_TOKEN``; without them each
tick is skipped with that reason. Settings: ``meshkit.erasure.settings``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from meshkit.erasure.registry import RegistryClient
from meshkit.erasure.settings import ErasureSettings
from meshkit.erasure.worker import ErasureWorker
from meshkit.privacy.keys import LocalKeyStore

DEFAULT_INTERVAL = 300


def erasure_sensor(
    domain: str,
    contracts_dir: str | Path,
    *,
    name: str = "meshkit_erasure",
    minimum_interval_seconds: int = DEFAULT_INTERVAL,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor running ``domain``'s erasure worker every ``minimum_interval_seconds``."""
    contracts = Path(contracts_dir)

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Erasure requests of the registry for the {domain} domain's products.",
    )
    def _erasure(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        settings = ErasureSettings()
        if not settings.registry_url or settings.registry_token is None:
            return dg.SkipReason(
                "MESHKIT_REGISTRY_URL and MESHKIT_REGISTRY_TOKEN are not set: no registry to "
                "take erasure requests from"
            )
        client = RegistryClient(settings.registry_url, settings.registry_token.get_secret_value())
        with LocalKeyStore.open(settings.keystore_dir) as store:
            worker = ErasureWorker(domain, contracts, store, settings.targets(), client)
            outcomes = worker.run_once()
        for o in outcomes:
            context.log.info(f"erasure {o.request_id}: {o.product} {o.status}")
        done = sum(o.status == "verified" for o in outcomes)
        return dg.SkipReason(
            f"{len(outcomes)} product(s) of open erasure requests handled, {done} verified"
        )

    return _erasure
