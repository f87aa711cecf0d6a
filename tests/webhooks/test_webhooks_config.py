"""``client.webhooks`` and the webhook models: wire rendering, validation, secrecy."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from _spec import SPEC_DATA_SETTINGS, schema, validate_body
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st

from awork_async import APIResponseValidationError, AworkClient
from awork_async._converter import structure, unstructure
from awork_async.models import WebhookConfig, WebhookConfigForm

BASE = "https://api.awork.test/api/v1"
EVENTS = ["timetracking_added", "timetracking_updated", "timetracking_deleted"]


def _form(**changes: Any) -> WebhookConfigForm:
    values: dict[str, Any] = {
        "name": "sync",
        "uri": "https://worker.example/awork/webhooks",
        "events": EVENTS,
        "is_active": True,
        "auth_header": "X-Awork-Secret",
        "auth_value": "s3cr3t",
    }
    values.update(changes)
    return WebhookConfigForm(**values)


def test_form_renders_awork_strings() -> None:
    body = unstructure(_form(language="en-GB", only_trigger_for_main_entity_changes=True))
    validate_body("WebhookConfigForm", body)
    assert body == {
        "name": "sync",
        "uri": "https://worker.example/awork/webhooks",
        "events": "timetracking_added,timetracking_updated,timetracking_deleted",
        "isActive": True,
        "authenticationType": "header",
        "authentication": "X-Awork-Secret=s3cr3t",
        "language": "en-GB",
        "onlyTriggerForMainEntityChanges": True,
    }


def test_form_without_header_sends_type_none() -> None:
    body = unstructure(_form(auth_header=None, auth_value=None, is_active=False))
    validate_body("WebhookConfigForm", body)
    assert body["authenticationType"] == "none"
    assert "authentication" not in body
    assert body["isActive"] is False


def test_form_covers_every_spec_property() -> None:
    body = unstructure(_form(language="en-GB", only_trigger_for_main_entity_changes=False))
    assert set(body) == set(schema("WebhookConfigForm")["properties"])


_NAMES = st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True)


@SPEC_DATA_SETTINGS
@given(
    events=st.lists(_NAMES, min_size=1, max_size=5),
    header=st.one_of(st.none(), st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)),
    value=st.from_regex(r"[!-~]([ -~]{0,30}[!-~])?", fullmatch=True),
)
def test_any_valid_form_validates(events: list[str], header: str | None, value: str) -> None:
    form = _form(events=events, auth_header=header, auth_value=None if header is None else value)
    body = unstructure(form)
    validate_body("WebhookConfigForm", body)
    assert body["events"].split(",") == events
    if header is not None:
        name, _, sent = body["authentication"].partition("=")
        assert (name, sent) == (header, value)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"name": ""}, ValueError, "name"),
        ({"uri": "ftp://x"}, ValueError, "uri"),
        ({"uri": "/relative"}, ValueError, "uri"),
        ({"uri": None}, TypeError, "uri"),
        ({"events": "timetracking_added"}, TypeError, "events"),
        ({"events": []}, ValueError, "events"),
        ({"events": ["a,b"]}, ValueError, "events"),
        ({"events": [1]}, TypeError, "events"),
        ({"is_active": "yes"}, TypeError, "is_active"),
        ({"auth_header": "X=Y"}, ValueError, "auth_header"),
        ({"auth_header": "X Y"}, ValueError, "auth_header"),
        ({"auth_value": "a\r\nb"}, ValueError, "auth_value"),
        ({"auth_value": ""}, ValueError, "auth_value"),
        ({"auth_value": None}, ValueError, "together"),
        ({"auth_header": None}, ValueError, "together"),
        ({"only_trigger_for_main_entity_changes": 1}, TypeError, "only_trigger"),
    ],
)
def test_bad_forms_raise_before_any_request(
    changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _form(**changes)


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    form = _form(auth_value="hunter2-secret")
    assert "hunter2" not in repr(form)
    with pytest.raises(ValueError, match="auth_value") as info:
        _form(auth_value="hunter2\nsecret")
    assert "hunter2" not in str(info.value)
    config = structure(
        {"authenticationType": "header", "authentication": "X-Awork-Secret=hunter2"},
        WebhookConfig,
    )
    assert "hunter2" not in repr(config)
    assert config.auth_header == "X-Awork-Secret"


def test_config_event_types_and_header() -> None:
    config = structure(
        {"events": "timetracking_added, timetracking_deleted,", "authenticationType": "none"},
        WebhookConfig,
    )
    assert config.event_types == ("timetracking_added", "timetracking_deleted")
    assert config.auth_header is None
    assert WebhookConfig().event_types == ()


async def test_bad_input_raises_before_any_request(mocked_client: AworkClient) -> None:
    with aioresponses() as mocked:
        with pytest.raises(ValueError, match="webhook_id"):
            await mocked_client.webhooks.get("not-a-uuid")
        with pytest.raises(TypeError, match="WebhookConfigForm"):
            await mocked_client.webhooks.create({"name": "x"})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="WebhookConfigForm"):
            await mocked_client.webhooks.update(uuid.uuid4(), None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="slack"):
            await mocked_client.webhooks.event_types(slack="yes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="webhook_id"):
            mocked_client.webhooks.logs("nope")
        assert not mocked.requests


async def test_event_types_rejects_a_wrong_shape(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    url = re.compile(re.escape(BASE) + r"/webhooks/eventtypes$")
    mocked.get(url, payload={"a": 1}, repeat=True)  # a bad 2xx of a GET is retried
    with pytest.raises(APIResponseValidationError, match="array"):
        await mocked_client.webhooks.event_types()
    mocked.clear()
    mocked.get(url, payload=[1, 2])
    with pytest.raises(APIResponseValidationError, match="strings"):
        await mocked_client.webhooks.event_types()


async def test_error_answers_never_show_the_header_value(
    mocked_client: AworkClient, mocked: aioresponses
) -> None:
    from awork_async import ValidationFailedError

    secret = "hunter2-webhook-secret"
    echo = {
        "code": "validation-failed",
        "description": f"Authentication 'X-Awork-Secret={secret}' is not allowed.",
        "details": [f"value: {secret}"],
        "validationErrors": [{"property": "Authentication", "message": f"bad {secret}"}],
    }
    mocked.post(re.compile(re.escape(BASE) + r"/webhooks$"), status=400, payload=echo)
    with pytest.raises(ValidationFailedError) as info:
        await mocked_client.webhooks.create(_form(auth_value=secret))
    error = info.value
    for shown in (str(error), repr(error), str(error.body), str(error.validation_errors)):
        assert secret not in shown
