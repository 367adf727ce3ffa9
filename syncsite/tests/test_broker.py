"""The django-q2 broker is the one the environment asks for, and it really carries messages."""

import os
import uuid

import pytest
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis


@pytest.mark.django_db
def test_the_broker_matches_redis_url():
    broker = get_broker()
    if os.environ.get("REDIS_URL"):
        assert isinstance(broker, Redis)
    else:
        assert isinstance(broker, ORM)


@pytest.mark.django_db(transaction=True)
def test_the_configured_broker_round_trips_a_message():
    broker = get_broker(list_key=f"syncsite-test-{uuid.uuid4().hex[:8]}")
    assert broker.ping()
    try:
        broker.enqueue("payload-1")
        assert broker.queue_size() == 1
        messages = broker.dequeue()
        assert messages
        body = messages[0][1]
        assert (body.decode() if isinstance(body, bytes) else body) == "payload-1"
        broker.acknowledge(messages[0][0])
        assert broker.queue_size() == 0
    finally:
        broker.delete_queue()
