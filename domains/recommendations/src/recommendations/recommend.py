"""The recommender: event-sourced state over the orders and catalogue products.

Plain Python over batches (no engine code), so it is tested without Bytewax. The state is
built only from the two input products' topics (a record per key, a tombstone when a
key is deleted):

- the catalogue: each article's category and stock (an article deleted or out of stock
  is never recommended);
- the orders: which customer bought which article (a cancelled or deleted order counts
  for nothing), and how many customers bought each article (its popularity).

A customer's list: the categories they bought from, most bought first; the most popular
articles in their top two categories that they have not bought, best first, filled up
from the most popular articles overall; five at most. After each batch the lists of
the customers it touched are recomputed (those who ordered, those who bought or were
recommended a changed article) and a record is emitted for each list that changed.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import meshkit.streaming as ms
import orjson

TOP = 5
CATEGORIES = 2
ORDERS_TOPIC = "orders.order.v1"
CATALOG_TOPIC = "catalog.product.v1"
NOT_COUNTED = {"cancelled"}


@dataclass
class Recommender:
    """The state of the recommendations (one instance holds the whole mesh's view)."""

    articles: dict[str, tuple[str, int]] = field(default_factory=dict)  # id → (category, stock)
    orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # order → (customer, article)
    bought: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    buyers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    shown: dict[str, tuple[str, ...]] = field(default_factory=dict)  # customer → last list
    shown_to: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    last: dict[str, tuple[Any, ...] | None] = field(default_factory=dict)  # customer → last record

    def apply(
        self, batch: Sequence[ms.RawMessage]
    ) -> tuple[list[ms.ProductChange], list[ms.Failure]]:
        """Fold a poll of the two product topics in: the changed recommendation records, and
        the messages that could not be read (dead letters)."""
        touched: set[str] = set()
        failures: list[ms.Failure] = []
        for message in batch:
            key = message.key.decode("utf-8", "replace") if message.key else None
            try:
                value = orjson.loads(message.value) if message.value is not None else None
            except orjson.JSONDecodeError:
                value = None
            if key is None or (message.value is not None and not isinstance(value, dict)):
                failures.append(ms.Failure("read", "not a product record", message.source, None))
            elif message.source.topic == CATALOG_TOPIC:
                touched |= self._article(key, value)
            elif message.source.topic == ORDERS_TOPIC:
                touched |= self._order(key, value)
        out = []
        popular = self.popular()  # one ranking for the whole batch
        now = datetime.now(UTC)
        position = time.time_ns() // 1000  # later than any record this view holds
        source = batch[-1].source if batch else None
        for customer in sorted(touched):
            record = self.recommend(customer, now, popular)
            signature = (
                None if record is None else (record["product_ids"], record["categories"],
                                             record["orders"])
            )  # fmt: skip
            if self.last.get(customer) == signature:
                continue
            self.last[customer] = signature
            if record is None:
                out.append(ms.ProductChange("delete", (customer,), None, position, source))
            else:
                out.append(ms.ProductChange("upsert", (customer,), record, position, source))
        return out, failures

    def _article(self, key: str, after: dict[str, Any] | None) -> set[str]:
        if after is None:
            self.articles.pop(key, None)
        else:
            self.articles[key] = (str(after.get("category")), int(after.get("stock") or 0))
        return set(self.buyers.get(key, ())) | set(self.shown_to.get(key, ()))

    def _order(self, order: str, after: dict[str, Any] | None) -> set[str]:
        touched = set()
        old = self.orders.pop(order, None)
        if old is not None:  # the order's previous state no longer counts
            customer, article = old
            self.bought[customer][article] -= 1
            if self.bought[customer][article] <= 0:
                del self.bought[customer][article]
                self.buyers[article].discard(customer)
            touched.add(customer)
        if after is not None and after.get("status") not in NOT_COUNTED:
            buyer, product = str(after.get("customer_id")), after.get("product_id")
            if product is not None:
                self.orders[order] = (buyer, str(product))
                self.bought[buyer][str(product)] += 1
                self.buyers[str(product)].add(buyer)
                touched.add(buyer)
        return touched

    def popular(self) -> list[str]:
        """The articles in stock, most customers first (ties by id): computed once per
        batch, so a list costs a walk down it rather than a sort of the catalogue."""
        return sorted(
            (a for a, (_, stock) in self.articles.items() if stock > 0),
            key=lambda a: (-len(self.buyers.get(a, ())), a),
        )

    def recommend(
        self, customer: str, now: datetime, popular: list[str] | None = None
    ) -> dict[str, Any] | None:
        """The customer's record, or None when nothing they bought is known.

        ``popular`` is :meth:`popular` of the current state (computed when not given)."""
        mine = self.bought.get(customer)
        if not mine:
            self._show(customer, ())
            return None
        by_category: Counter[str] = Counter()
        for article, n in mine.items():
            known = self.articles.get(article)
            if known is not None:
                by_category[known[0]] += n
        categories = [c for c, _ in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))]
        favourite = set(categories[:CATEGORIES])
        ranked: list[str] = []  # the favourite categories' articles first, then the others
        rest: list[str] = []
        for a in self.popular() if popular is None else popular:
            if a in mine:
                continue
            if self.articles[a][0] in favourite:
                ranked.append(a)
                if len(ranked) == TOP:
                    break
            elif len(rest) < TOP:
                rest.append(a)
        ranked += rest
        picks = tuple(ranked[:TOP])
        self._show(customer, picks)
        return {
            "customer_id": customer,
            "product_ids": list(picks),
            "categories": categories,
            "orders": sum(mine.values()),
            "updated_at": now,
        }

    def _show(self, customer: str, picks: tuple[str, ...]) -> None:
        for article in self.shown.get(customer, ()):
            self.shown_to[article].discard(customer)
        for article in picks:
            self.shown_to[article].add(customer)
        self.shown[customer] = picks


def step(
    state: Recommender | None, batch: list[ms.RawMessage]
) -> tuple[Recommender, tuple[list[ms.ProductChange], list[ms.Failure]]]:
    """The Bytewax ``stateful_map`` mapper: fold the poll into the state."""
    state = state if state is not None else Recommender()
    return state, state.apply(batch)
