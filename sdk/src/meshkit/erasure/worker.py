"""A domain's erasure worker: take the registry's requests for this domain's products,
erase the subject, prove it, report back.

For each open request (``RegistryClient.work``), and each of the domain's products in it:

1. read the subject's records from every output port of the product (every message of
   a topic) and keep their encrypted values in memory — the evidence to check later;
2. crypto-shred: delete the subject's key in the domain's key store
   (``meshkit.privacy.erase``; a tombstone stays, so data arriving later for the subject
   is written without its encrypted fields);
3. delete by key wherever a port holds the subject id (``meshkit.erasure.ports``);
4. verify, port by port: no live record of the subject is left; none of the subject's
   encrypted values read in step 1 or still stored decrypts; a few encrypted values of
   other subjects in the same port still decrypt (so "unreadable" means erased, not a
   broken key store);
5. report the counts to the registry, which judges them (``verified`` or ``failed`` with
   the reason).

Evidence holds counts only. The subject id and every value read stay in memory; the
log names requests and products, never a subject or a value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshkit.contracts import Contract, load_contract
from meshkit.contracts.exporters.elasticsearch import indexed
from meshkit.contracts.exporters.published import published_fields
from meshkit.erasure.ports import MissingTargetError, PortTargets, SubjectPort, open_port
from meshkit.erasure.registry import RegistryClient, WorkItem, WorkProduct
from meshkit.errors import ConfigError
from meshkit.privacy.encrypt import SubjectCipher
from meshkit.privacy.erasure import erase, holdings_of
from meshkit.privacy.keys import KeyStore

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What happened to one product of one request (as the registry judged it)."""

    request_id: str
    product: str
    status: str
    problem: str | None = None


def load_contracts(directory: Path) -> dict[str, Contract]:
    """The domain's contracts by product address (``domain.product.vN``)."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory of contracts")
    paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    return {c.address: c for c in (load_contract(p) for p in paths)}


def encrypted_fields(contract: Contract, kind: str | None = None) -> list[str]:
    """The top-level published fields written with ``encrypt`` (those a port of ``kind``
    stores: a search index holds personal data only as tokens)."""
    return [
        f.name
        for f in published_fields(contract)
        if f.spec.transform is not None
        and f.spec.transform.kind == "encrypt"
        and (kind != "search_index" or indexed(f))
    ]


class ErasureWorker:
    """Runs a domain's erasures; ``run_once()`` takes every open request once.

    Example::

        worker = ErasureWorker("customers", Path("contracts"), store, targets,
                               RegistryClient(url, token))
        worker.run_once()        # [Outcome(request_id, product, 'verified', None), ...]
    """

    def __init__(
        self,
        domain: str,
        contracts: Path | dict[str, Contract],
        store: KeyStore,
        targets: PortTargets,
        registry: RegistryClient,
    ) -> None:
        self.domain = domain
        self.contracts = load_contracts(contracts) if isinstance(contracts, Path) else contracts
        self.store = store
        self.targets = targets
        self.registry = registry

    def run_once(self) -> list[Outcome]:
        """Take every open request for this domain once; the outcome of each product."""
        out: list[Outcome] = []
        for item in self.registry.work(self.domain):
            out += self.handle(item)
        return out

    def handle(self, item: WorkItem) -> list[Outcome]:
        """Erase one request's subject from this domain's products and report each."""
        mine = [p for p in item.products if p.address in self.contracts]
        unknown = [p.address for p in item.products if p.address not in self.contracts]
        out = [
            Outcome(item.request_id, a, "skipped", "no contract of this product here")
            for a in unknown
        ]
        if not mine:
            return out
        # every target is known before anything is deleted
        opened: dict[str, list[SubjectPort]] = {}
        try:
            for p in mine:
                contract = self.contracts[p.address]
                opened[p.address] = []
                for declared in contract.ports.outputs:
                    try:
                        opened[p.address].append(open_port(contract, declared, self.targets))
                    except MissingTargetError as exc:
                        raise ConfigError(
                            f"{p.address}: the erasure worker needs {exc} (see `meshkit "
                            "erasure work --help`)"
                        ) from None
            captured = {p.address: self._capture(p, item, opened[p.address]) for p in mine}
            erase(
                self.store,
                item.subject_id,
                [holdings_of(self.contracts[p.address]) for p in mine],
                reason=f"erasure request {item.request_id}",
            )
            for p in mine:
                for port in opened[p.address]:
                    port.delete(p.subject_field, item.subject_id)
            for p in mine:
                evidence = self._verify(p, item, opened[p.address], captured[p.address])
                answer = self.registry.report(item.request_id, p.address, evidence)
                rows: list[dict[str, Any]] = answer.get("products", [])
                row = next((x for x in rows if x["address"] == p.address), {})
                status, problem = str(row.get("status", "?")), row.get("problem")
                _log.info("erasure %s: %s %s", item.request_id, p.address, status)
                out.append(Outcome(item.request_id, p.address, status, problem))
        finally:
            for ports in opened.values():
                for port in ports:
                    port.close()
        return out

    def _capture(
        self, product: WorkProduct, item: WorkItem, ports: Sequence[SubjectPort]
    ) -> dict[str, tuple[int, list[tuple[str, str]]]]:
        """Per port kind: the subject's live records and its encrypted values."""
        out: dict[str, tuple[int, list[tuple[str, str]]]] = {}
        for port in ports:
            fields = encrypted_fields(self.contracts[product.address], port.kind)
            live = len(port.subject_rows(product.subject_field, item.subject_id))
            texts = _texts(port.history(product.subject_field, item.subject_id), fields)
            out[port.kind] = (live, texts)
        return out

    def _verify(
        self,
        product: WorkProduct,
        item: WorkItem,
        ports: Sequence[SubjectPort],
        captured: dict[str, tuple[int, list[tuple[str, str]]]],
    ) -> dict[str, Any]:
        cipher = SubjectCipher(self.store, cache_ttl=0)
        evidence: list[dict[str, Any]] = []
        for port in ports:
            fields = encrypted_fields(self.contracts[product.address], port.kind)
            before, texts = captured[port.kind]
            after = len(port.subject_rows(product.subject_field, item.subject_id))
            texts = sorted(
                {*texts, *_texts(port.history(product.subject_field, item.subject_id), fields)}
            )
            control = _texts(port.others(product.subject_field, item.subject_id, fields), fields)
            evidence.append(
                {
                    "kind": port.kind,
                    "subject_records_before": before,
                    "subject_records_after": after,
                    "ciphertexts_checked": len(texts),
                    "ciphertexts_readable": _readable(cipher, texts),
                    "control_checked": len(control),
                    "control_readable": _readable(cipher, control),
                }
            )
        return {"key_erased": True, "ports": evidence}


def _texts(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> list[tuple[str, str]]:
    return [(f, str(r[f])) for r in rows for f in fields if r.get(f) is not None]


def _readable(cipher: SubjectCipher, texts: Sequence[tuple[str, str]]) -> int:
    ok = 0
    for field, text in texts:
        outcome = cipher.decrypt_many([text], field)[0]
        ok += outcome is not None and outcome.status == "ok"
    return ok
