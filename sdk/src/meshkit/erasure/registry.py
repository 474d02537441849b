"""The registry's erasure endpoints, from a domain's side (standard library HTTP).

``RegistryClient(url, token)``: ``work(domain)`` lists the open requests for the domain's
products (``GET /v1/domains/<domain>/erasures``), ``report(request_id, product, evidence)``
sends one product's evidence (``POST /v1/erasures/<id>/products/<product>/report``) and
returns the registry's judgement. Failures are ``ServiceError`` with the registry's own
``error`` sentence, never a request body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, cast

from meshkit.errors import ServiceError


@dataclass(frozen=True)
class WorkProduct:
    address: str
    subject_field: str


@dataclass(frozen=True)
class WorkItem:
    """One open request for this domain: the subject id and the products to erase it from."""

    request_id: str
    subject_type: str
    subject_id: str = ""
    products: tuple[WorkProduct, ...] = ()

    def __repr__(self) -> str:  # the subject id stays out of logs and tracebacks
        return f"WorkItem({self.request_id}, {self.subject_type}, {len(self.products)} products)"


class RegistryClient:
    """A domain's client of the registry's erasure endpoints."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - the registry URL the domain configured
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read()).get("error", ""))
            except (ValueError, AttributeError):
                message = ""
            raise ServiceError(
                f"registry {method} {path.split('?')[0]}: HTTP {exc.code}"
                + (f": {message}" if message else "")
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(
                f"registry at {self.url} does not answer ({type(reason).__name__}); "
                "check MESHKIT_REGISTRY_URL"
            ) from None

    def work(self, domain: str) -> list[WorkItem]:
        """The open erasure requests concerning ``domain``'s products."""
        found = cast(list[dict[str, Any]], self._call("GET", f"/v1/domains/{domain}/erasures"))
        return [
            WorkItem(
                request_id=str(w["request_id"]),
                subject_type=str(w["subject_type"]),
                subject_id=str(w["subject_id"]),
                products=tuple(
                    WorkProduct(str(p["address"]), str(p["subject_field"])) for p in w["products"]
                ),
            )
            for w in found
        ]

    def report(self, request_id: str, product: str, evidence: dict[str, Any]) -> dict[str, Any]:
        """Send one product's evidence; the registry's view of the request."""
        path = (
            f"/v1/erasures/{urllib.parse.quote(request_id, safe='')}/products/"
            f"{urllib.parse.quote(product, safe='')}/report"
        )
        return cast(dict[str, Any], self._call("POST", path, evidence))
