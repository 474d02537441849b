"""Every supported column type through insert, update, delete and truncate, as Debezium maps it."""

from __future__ import annotations

import base64

import pytest

from meshkit.cdc.debezium import UNAVAILABLE
from tests.sdk.cdc.helpers import Env, changes, read_topic, running

pytestmark = pytest.mark.services

DDL = """
DROP TABLE IF EXISTS {t};
DROP TYPE IF EXISTS {t}_mood;
CREATE TYPE {t}_mood AS ENUM ('sad', 'happy');
CREATE TABLE {t} (
  id int PRIMARY KEY,
  c_bool boolean, c_int2 smallint, c_int4 integer, c_int8 bigint,
  c_float4 real, c_float8 double precision, c_nan double precision,
  c_numeric numeric(12,3), c_numeric_free numeric, c_money money,
  c_text text, c_varchar varchar(20), c_char char(3), c_uuid uuid,
  c_json json, c_jsonb jsonb, c_inet inet,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz,
  c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz, c_tstz0 timestamptz(0),
  c_ts_inf timestamp, c_interval interval,
  c_bytea bytea, c_int_arr int[], c_text_arr text[], c_bit1 bit(1), c_varbit varbit,
  c_enum {t}_mood, c_null text
)
"""

INSERT = """
INSERT INTO {t} VALUES (
  1, true, -5, 2147483647, 9223372036854775807,
  1.5, 2.25, 'NaN',
  1234.5, 3.14159, 12.34,
  'héllo "q"', 'abc', 'a', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{{"a": [1, 2]}}', '{{"b":1}}', '10.0.0.1/8',
  '2018-06-20', '15:13:16.945104', '15:13:16.945', '15:13:16.5+02',
  '2018-06-20 15:13:16.945104', '2018-06-20 15:13:16.945', '2018-06-20 15:13:16.945104+02',
  '2018-06-20 15:13:16+00', 'infinity', '1 year 2 mons 3 days 04:05:06.5',
  '\\x0102ff', '{{1,2,NULL}}', '{{"a b","c,d",e}}', '1', '101',
  'happy', NULL
)
"""

EXPECTED = {
    "id": 1,
    "c_bool": True,
    "c_int2": -5,
    "c_int4": 2147483647,
    "c_int8": 9223372036854775807,
    "c_float4": 1.5,
    "c_float8": 2.25,
    "c_nan": "NaN",
    "c_numeric": "1234.500",
    "c_numeric_free": "3.14159",
    "c_money": "12.34",
    "c_text": 'héllo "q"',
    "c_varchar": "abc",
    "c_char": "a  ",
    "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "c_json": '{"a": [1, 2]}',
    "c_jsonb": '{"b": 1}',
    "c_inet": "10.0.0.1/8",
    "c_date": 17702,  # io.debezium.time.Date: days since the epoch
    "c_time": 54796945104,  # MicroTime
    "c_time3": 54796945,  # Time (millis) for time(3)
    "c_timetz": "13:13:16.500000Z",  # ZonedTime in UTC
    "c_ts": 1529507596945104,  # MicroTimestamp: Debezium's documented example value
    "c_ts3": 1529507596945,  # Timestamp (millis) for timestamp(3)
    "c_tstz": "2018-06-20T13:13:16.945104Z",  # ZonedTimestamp
    "c_tstz0": "2018-06-20T15:13:16Z",
    "c_ts_inf": 9223372036825200000,
    # MicroDuration: (14 months * 365.25/12 + 3 days) + 04:05:06.5
    "c_interval": int((14 * 365.25 / 12 + 3) * 86_400_000_000) + 14_706_500_000,
    "c_bytea": base64.b64encode(b"\x01\x02\xff").decode(),
    "c_int_arr": [1, 2, None],
    "c_text_arr": ["a b", "c,d", "e"],
    "c_bit1": True,
    "c_varbit": base64.b64encode(bytes([0b101])).decode(),
    "c_enum": "happy",
    "c_null": None,
}


@pytest.mark.parametrize("identity", ["DEFAULT", "FULL"])
def test_every_type_insert_update_delete_truncate(cdc_env: Env, identity: str) -> None:
    table = f"types_{identity.lower()}"
    cdc_env.sql(DDL.format(t=table), f"ALTER TABLE {table} REPLICA IDENTITY {identity}")
    config = cdc_env.config([f"public.{table}"], snapshot_mode="no_data")
    topic = f"{config.topic_prefix}.public.{table}"
    with running(config):
        cdc_env.sql(
            INSERT.format(t=table),
            f"UPDATE {table} SET c_text = 'changed', c_int_arr = '{{}}' WHERE id = 1",
            f"DELETE FROM {table} WHERE id = 1",
            INSERT.format(t=table),
            f"TRUNCATE {table}",
        )
        # c, u, d + tombstone, c, t
        events = read_topic(cdc_env.bootstrap, topic, count=6)
    assert [e.value["op"] if e.value else None for e in events] == ["c", "u", "d", None, "c", "t"]
    create, update, delete, tombstone, again, truncate = events

    assert create.key == {"id": 1}
    assert create.value["before"] is None
    assert create.value["after"] == EXPECTED
    assert again.value["after"] == EXPECTED

    updated = {**EXPECTED, "c_text": "changed", "c_int_arr": []}
    assert update.key == {"id": 1}
    assert update.value["after"] == updated
    assert delete.key == tombstone.key == {"id": 1}
    assert tombstone.value is None
    assert delete.value["after"] is None
    if identity == "FULL":  # before-images of the whole row
        assert update.value["before"] == EXPECTED
        assert delete.value["before"] == updated
    else:  # DEFAULT: no before-image on update, only the key on delete (as Debezium)
        assert update.value["before"] is None
        assert delete.value["before"] == {"id": 1}

    assert truncate.key is None
    assert truncate.value["before"] is None
    assert truncate.value["after"] is None
    for event in changes(events):
        src = event.value["source"]
        assert src["table"] == table
        assert src["schema"] == "public"
        assert src["snapshot"] == "false"
        assert isinstance(src["lsn"], int)
        assert isinstance(src["txId"], int)
    lsns = [e.value["source"]["lsn"] for e in changes(events)]
    assert lsns == sorted(lsns)
    assert len(set(lsns)) == len(lsns)


def test_decimal_handling_modes(cdc_env: Env) -> None:
    cdc_env.sql(
        "DROP TABLE IF EXISTS decimals",
        "CREATE TABLE decimals (id int PRIMARY KEY, fixed numeric(10,2), free numeric)",
    )
    results = {}
    for mode in ("double", "precise"):
        config = cdc_env.config(
            ["public.decimals"], snapshot_mode="no_data", decimal_handling_mode=mode
        )
        cdc_env.sql("DELETE FROM decimals")
        with running(config):
            cdc_env.sql("INSERT INTO decimals VALUES (1, -12.5, 3.14159)")
            events = read_topic(
                cdc_env.bootstrap, f"{config.topic_prefix}.public.decimals", count=1
            )
        results[mode] = events[0].value["after"]
    assert results["double"] == {"id": 1, "fixed": -12.5, "free": 3.14159}
    # precise: Kafka Connect Decimal = big-endian two's complement of the unscaled value;
    # numeric without a scale = io.debezium.data.VariableScaleDecimal {scale, value}
    unscaled = base64.b64decode(results["precise"]["fixed"])
    assert int.from_bytes(unscaled, "big", signed=True) == -1250
    free = results["precise"]["free"]
    assert free["scale"] == 5
    assert int.from_bytes(base64.b64decode(free["value"]), "big", signed=True) == 314159


@pytest.mark.parametrize("identity", ["DEFAULT", "FULL"])
def test_unchanged_toast_values(cdc_env: Env, identity: str) -> None:
    table = f"toasty_{identity.lower()}"
    cdc_env.sql(
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} (id int PRIMARY KEY, n int, big text, blob bytea)",
        f"ALTER TABLE {table} REPLICA IDENTITY {identity}",
    )
    config = cdc_env.config([f"public.{table}"], snapshot_mode="no_data")
    big = "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 1000) g"  # 32 KB
    with running(config):
        cdc_env.sql(
            f"INSERT INTO {table} VALUES (1, 0, ({big}), decode(({big}), 'escape'))",
            f"UPDATE {table} SET n = 1 WHERE id = 1",
        )
        events = read_topic(cdc_env.bootstrap, f"{config.topic_prefix}.public.{table}", count=2)
    full = events[0].value["after"]
    after = events[1].value["after"]
    assert len(full["big"]) == 32_000
    if identity == "FULL":  # the old row carries the value: Debezium includes it
        assert after == {**full, "n": 1}
    else:
        assert after["big"] == UNAVAILABLE
        assert base64.b64decode(after["blob"]) == UNAVAILABLE.encode()
        assert after["n"] == 1
