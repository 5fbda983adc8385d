"""Twilio's Credentials/AWS through the official client: the customer's own key for their bucket,
whose secret is never read back (#17.4)."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException


def test_credentials_are_created_listed_renamed_and_deleted(server):
    aws = server.client().accounts.v1.credentials.aws
    made = aws.create(credentials="AKIAEXAMPLE123:wJalrXUtnFEMI/K7MDENG", friendly_name="media bucket")
    assert made.sid.startswith("CR") and len(made.sid) == 34
    assert made.account_sid == server.account_sid and made.friendly_name == "media bucket"
    assert made.url.endswith(f"/v1/Credentials/AWS/{made.sid}") and made.date_created is not None
    with server.http() as http:
        raw = http.get(f"/v1/Credentials/AWS/{made.sid}").text
    assert "wJalrXUtnFEMI" not in raw and "AKIAEXAMPLE123" not in raw
    assert made.sid in [c.sid for c in aws.list()]
    assert aws(made.sid).update(friendly_name="renamed").friendly_name == "renamed"
    assert aws(made.sid).fetch().friendly_name == "renamed"
    assert aws(made.sid).delete() is True
    with pytest.raises(TwilioRestException) as caught:
        aws(made.sid).fetch()
    assert caught.value.status == 404


@pytest.mark.parametrize("value", ["no-colon", ":secret-only", "AKIAONLY:", ""])
def test_credentials_must_be_a_key_id_and_a_secret(server, value):
    with server.http() as http:
        response = http.post("/v1/Credentials/AWS", data={"Credentials": value})
    assert response.status_code == 400 and response.json()["code"] == 53400


def test_settings_name_only_a_credential_of_the_account(server):
    with pytest.raises(TwilioRestException) as caught:
        server.client().video.v1.recording_settings().create(
            friendly_name="s3", aws_s3_url="s3://bucket/rec", aws_credentials_sid="CR" + "9" * 32
        )
    assert caught.value.status == 400 and "AwsCredentialsSid" in caught.value.msg
