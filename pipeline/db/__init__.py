"""The database: SQLAlchemy 2 models and sessions; the source of truth for every status."""

from .engine import Database
from .models import Base

__all__ = ["Base", "Database"]
