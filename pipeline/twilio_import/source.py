"""A Twilio-compatible account to read from: Twilio itself, or another roomreel (`--api-url`)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_VIDEO = "https://video.twilio.com"
TWILIO_ACCOUNTS = "https://api.twilio.com"
TWILIO_ACCOUNTS_V1 = "https://accounts.twilio.com"
CHUNK = 1 << 20


class SourceError(Exception):
    pass


class ElsewhereHttpClient(TwilioHttpClient):
    """The official client's requests, sent to another host that serves Twilio's API (Video's
    `/v1`, the accounts API's `/2010-04-01` and its `/v1/Credentials`) instead of Twilio."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):  # fmt: skip
        for twilio in (TWILIO_VIDEO, TWILIO_ACCOUNTS, TWILIO_ACCOUNTS_V1):
            url = url.replace(twilio, self.base)
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


@dataclass(frozen=True)
class Credentials:
    username: str  # the account SID or an API key SID
    password: str
    account_sid: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Credentials:
        """As the twilio library reads them: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or an
        API key (TWILIO_API_KEY, TWILIO_API_SECRET) for TWILIO_ACCOUNT_SID."""
        env = dict(os.environ if env is None else env)
        account = env.get("TWILIO_ACCOUNT_SID", "")
        if not account:
            raise SourceError(
                "set TWILIO_ACCOUNT_SID (with TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET)"
            )
        if env.get("TWILIO_API_KEY") and env.get("TWILIO_API_SECRET"):
            return cls(env["TWILIO_API_KEY"], env["TWILIO_API_SECRET"], account)
        if env.get("TWILIO_AUTH_TOKEN"):
            return cls(account, env["TWILIO_AUTH_TOKEN"], account)
        raise SourceError("set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET")


@dataclass
class Download:
    size: int
    sha256: str


class TwilioSource:
    def __init__(self, credentials: Credentials, api_url: str = TWILIO_VIDEO) -> None:
        self.api_url = api_url.rstrip("/")
        http_client = None if self.api_url == TWILIO_VIDEO else ElsewhereHttpClient(self.api_url)
        self.client = Client(credentials.username, credentials.password, credentials.account_sid,
                             http_client=http_client)  # fmt: skip
        self.auth = (credentials.username, credentials.password)

    def rooms(self, since=None, until=None, sids: list[str] | None = None) -> list[Any]:
        video = self.client.video.v1
        if sids:
            return [video.rooms(sid).fetch() for sid in sids]
        return list(
            video.rooms.stream(status="completed", date_created_after=since, date_created_before=until)
        )

    def participants(self, room_sid: str) -> list[Any]:
        return list(self.client.video.v1.rooms(room_sid).participants.stream())

    def recordings(self, room_sid: str) -> list[Any]:
        return list(self.client.video.v1.recordings.stream(grouping_sid=[room_sid]))

    def compositions(self, room_sid: str) -> list[Any]:
        return list(self.client.video.v1.compositions.stream(room_sid=room_sid))

    def hooks(self) -> list[Any]:
        return list(self.client.video.v1.composition_hooks.stream())

    def settings(self) -> dict[str, Any]:
        video = self.client.video.v1
        found = {}
        for kind, resource in (
            ("recording", video.recording_settings),
            ("composition", video.composition_settings),
        ):
            try:
                found[kind] = resource().fetch()
            except Exception:  # an account that never set them
                continue
        return found

    def download(self, media_url: str, target: Path) -> Download:
        """Stream `/Media` (a redirect to a presigned URL) into `target`; never held in memory."""
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=False) as http:
            pointer = http.get(media_url, auth=self.auth)
            if pointer.status_code == 404:
                raise SourceError("the media is gone at the source")
            if pointer.status_code not in (301, 302, 303, 307, 308):
                raise SourceError(f"/Media answered {pointer.status_code}")
            location = pointer.headers.get("location") or pointer.json().get("redirect_to")
            if not location:
                raise SourceError("/Media gave no location")
            digest = hashlib.sha256()
            size = 0
            with http.stream("GET", location) as response, open(target, "wb") as out:
                if response.status_code != 200:
                    raise SourceError(f"the media download answered {response.status_code}")
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        return Download(size, digest.hexdigest())
