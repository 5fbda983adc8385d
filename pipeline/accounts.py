"""Accounts and API keys: the credentials of HTTP Basic auth."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.db.models import Account, ApiKey
from pipeline.sids import new_sid


def ensure_account(db: Database, settings: Settings) -> tuple[Account, bool]:
    """The account from ROOMREEL_ACCOUNT_SID/ROOMREEL_AUTH_TOKEN, or the first one, or a new one.
    Nodes of a cluster start together on one database: the one that loses the race to create the
    account reads the winner's."""
    try:
        return _ensure_account(db, settings)
    except IntegrityError:
        return _ensure_account(db, settings)


def _ensure_account(db: Database, settings: Settings) -> tuple[Account, bool]:
    with db.session() as session:
        if settings.account_sid and settings.auth_token:
            account = session.get(Account, settings.account_sid)
            if account is None:
                account = Account(
                    sid=settings.account_sid, auth_token=settings.auth_token, friendly_name="default"
                )
                session.add(account)
                return account, True
            account.auth_token = settings.auth_token
            return account, False
        account = session.scalars(select(Account).order_by(Account.date_created)).first()
        if account:
            return account, False
        account = Account(sid=new_sid("AC"), auth_token=secrets.token_hex(16), friendly_name="default")
        session.add(account)
        return account, True


def create_api_key(db: Database, account_sid: str, friendly_name: str = "") -> ApiKey:
    with db.session() as session:
        key = ApiKey(
            sid=new_sid("SK"),
            account_sid=account_sid,
            secret=secrets.token_urlsafe(24),
            friendly_name=friendly_name,
        )
        session.add(key)
        return key
