"""The recommender's rules, on product messages as the two input topics carry them."""

import json

import meshkit.streaming as ms

from recommendations.recommend import CATALOG_TOPIC, ORDERS_TOPIC, Recommender

ARTICLES = {
    "1": ("outdoor", 10), "2": ("outdoor", 5), "3": ("outdoor", 0), "4": ("books", 3),
    "5": ("books", 8), "6": ("kitchen", 4), "7": ("toys", 2), "8": ("outdoor", 1),
}  # fmt: skip


def message(topic, key, value, offset=0):
    body = None if value is None else json.dumps(value).encode()
    return ms.RawMessage(key.encode(), body, ms.SourcePosition(topic, 0, offset))


def article(pid, category, stock):
    return message(CATALOG_TOPIC, pid, {"product_id": pid, "category": category, "stock": stock})


def order(oid, customer, pid, status="paid"):
    return message(ORDERS_TOPIC, oid, {"order_id": oid, "customer_id": customer,
                                        "product_id": pid, "status": status})  # fmt: skip


def catalogue():
    rec = Recommender()
    rec.apply([article(p, c, s) for p, (c, s) in ARTICLES.items()])
    return rec


def records(changes):
    return {c.key[0]: c.record for c in changes}


def test_popular_unbought_articles_of_the_customers_categories_in_stock():
    rec = catalogue()
    # others make article 2 the most popular outdoor article, 5 the most popular book
    changes, failures = rec.apply([
        order("o1", "c1", "1"), order("o2", "c2", "2"), order("o3", "c3", "2"),
        order("o4", "c2", "5"), order("o5", "c9", "7"),
    ])  # fmt: skip
    assert failures == []
    mine = records(changes)["c1"]
    assert mine["categories"] == ["outdoor"]
    assert mine["orders"] == 1
    # outdoor first (2 is popular; 8 is in stock; 3 has none; 1 is bought), then the rest
    assert mine["product_ids"][:2] == ["2", "8"]
    assert "3" not in mine["product_ids"]
    assert "1" not in mine["product_ids"]
    assert len(mine["product_ids"]) == 5


def test_an_order_changes_the_list_and_only_changed_lists_are_emitted():
    rec = catalogue()
    first, _ = rec.apply([order("o1", "c1", "4")])
    assert records(first)["c1"]["categories"] == ["books"]
    again, _ = rec.apply([order("o1", "c1", "4")])  # the same record replayed: no change
    assert again == []
    second, _ = rec.apply([order("o2", "c1", "5"), order("o3", "c1", "1")])
    mine = records(second)["c1"]
    assert mine["categories"] == ["books", "outdoor"]
    assert "5" not in mine["product_ids"]


def test_cancelled_and_deleted_orders_count_for_nothing():
    rec = catalogue()
    rec.apply([order("o1", "c1", "4"), order("o2", "c1", "6")])
    changes, _ = rec.apply([order("o2", "c1", "6", status="cancelled")])
    assert records(changes)["c1"]["categories"] == ["books"]
    changes, _ = rec.apply([message(ORDERS_TOPIC, "o1", None)])  # tombstone
    assert [(c.op, c.key) for c in changes] == [("delete", ("c1",))]


def test_an_article_out_of_stock_leaves_the_lists_it_was_on():
    rec = catalogue()
    changes, _ = rec.apply([order("o1", "c1", "4")])
    assert "5" in records(changes)["c1"]["product_ids"]
    changes, _ = rec.apply([article("5", "books", 0)])
    assert "5" not in records(changes)["c1"]["product_ids"]


def test_unreadable_messages_are_failures_without_their_payload():
    rec = catalogue()
    bad = ms.RawMessage(b"o9", b"{not json", ms.SourcePosition(ORDERS_TOPIC, 1, 7))
    changes, failures = rec.apply([bad])
    assert changes == []
    assert [(f.step, f.payload, str(f.source)) for f in failures] == [
        ("read", None, f"{ORDERS_TOPIC}[1]@7")
    ]


def test_lists_equal_a_full_sort_of_the_catalogue_for_each_customer():
    """The ranking walked once per batch gives every customer the list a sort of the whole
    catalogue by (not in their top categories, fewer buyers, id) gives."""
    import random
    from datetime import UTC, datetime

    from recommendations.recommend import CATEGORIES, TOP

    rng = random.Random(7)
    for _ in range(50):
        rec = Recommender()
        cats = ["a", "b", "c", "d"]
        rec.apply([article(str(p), rng.choice(cats), rng.choice([0, 1, 5]))
                   for p in range(1, rng.randint(2, 40))])  # fmt: skip
        rec.apply([order(str(o), str(rng.randint(1, 6)), str(rng.randint(1, 45)))
                   for o in range(rng.randint(1, 60))])  # fmt: skip
        popular = rec.popular()
        for customer, mine in rec.bought.items():
            got = rec.recommend(customer, datetime.now(UTC), popular)
            by_cat: dict[str, int] = {}
            for a, n in mine.items():
                if a in rec.articles:
                    by_cat[rec.articles[a][0]] = by_cat.get(rec.articles[a][0], 0) + n
            top = {
                c for c, _ in sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))[:CATEGORIES]
            }
            expected = sorted(
                (a for a, (_, stock) in rec.articles.items() if stock > 0 and a not in mine),
                key=lambda a: (rec.articles[a][0] not in top, -len(rec.buyers.get(a, ())), a),
            )[:TOP]
            assert got is not None and got["product_ids"] == expected
