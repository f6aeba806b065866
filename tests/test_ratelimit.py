"""Rate limits: shared through a real Redis, per process when Redis is down; never a 500."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import redis

from api.problems import Problem
from api.ratelimit import RateLimiter

REDIS = "redis://127.0.0.1:6379/0"
DOWN = "redis://127.0.0.1:1/0"  # nothing listens there


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS).ping())
    except redis.RedisError:
        return False


def test_limits_are_shared_through_redis() -> None:
    if not _redis_up():
        pytest.fail("Redis is not running at 127.0.0.1:6379 (scripts/services.sh starts it)")
    key = f"test-{uuid.uuid4().hex}"
    a, b = RateLimiter(REDIS, per_minute=5), RateLimiter(REDIS, per_minute=5)
    for limiter in (a, b, a, b, a):
        limiter.check(key)
    with pytest.raises(Problem) as limited:
        b.check(key)  # the sixth request, counted across both processes' limiters
    assert limited.value.status == 429 and limited.value.extra["retry_after"] > 0


def test_with_redis_down_limits_degrade_to_per_process() -> None:
    key = f"test-{uuid.uuid4().hex}"
    a, b = RateLimiter(DOWN, per_minute=3), RateLimiter(DOWN, per_minute=3)
    for _ in range(3):
        a.check(key)
        b.check(key)  # b counts on its own: no shared state without Redis
    with pytest.raises(Problem):
        a.check(key)


def test_the_rate_is_configured_and_checked(tmp_path: object) -> None:
    from pathlib import Path

    from filing.deployment import ConfigError, Deployment, DeploymentConfig

    assert DeploymentConfig.from_json("{}").rate_per_minute == 600
    assert DeploymentConfig.from_json('{"rate_per_minute": 20}').rate_per_minute == 20
    for bad in (
        '{"rate_per_minute": 0}',
        '{"rate_per_minute": "many"}',
        '{"rate_per_minute": 1.5}',
    ):
        with pytest.raises(ConfigError, match="rate_per_minute"):
            DeploymentConfig.from_json(bad)
    data = Path(str(tmp_path)) / "data"
    with Deployment.open(data) as d:
        d.save_config(dataclasses.replace(d.config, rate_per_minute=20))
    with Deployment.open(data) as d:
        assert d.config.rate_per_minute == 20


def test_the_api_answers_429_as_a_problem(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from fastapi.testclient import TestClient

    from api import app as app_module
    from api import auth
    from filing import api_keys
    from filing.deployment import Deployment
    from ledger.database import write_transaction

    monkeypatch.setenv("WANGQIAN_REDIS_URL", DOWN)  # and filing keeps working without Redis
    with Deployment.open(Path(str(tmp_path)) / "data") as d:
        d.save_config(dataclasses.replace(d.config, rate_per_minute=3))  # config.json
        client = TestClient(app_module.create_app(d, run_sequencer=False))
        with write_transaction(d.log.engine) as conn:
            key = api_keys.create_key(conn, "银行", auth.Role.DEPARTMENT)
        headers = {"Authorization": f"Bearer {key}"}
        assert [client.get("/v1/units", headers=headers).status_code for _ in range(3)] == [200] * 3
        r = client.get("/v1/units", headers=headers)
        assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/rate-limited") and int(r.headers["Retry-After"]) > 0
