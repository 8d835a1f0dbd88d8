"""The index tables (sqlmodel): a projection of ledger state for the read API's queries.

Rules:

- The index is never the source of truth: every row is derived from one state entry (its
  `state_key`), so a row is replaced whenever its key is written and deleted when its key is.
- Table names carry the prefix `ol_` (PostgreSQL reserves `user`).
- `ol_record` holds every record family in one table with the columns the queries filter on;
  what each generic column means per family is in `wire/records.py` and docs/api.md.
  `body` is the record as JSON text, `value_hash` the SHA-256 (hex) of the stored value bytes.
- `ol_person` links a record to every person key it names (the member-history query).
- `ol_meta` holds the progress marker (`indexed_height`) and the chain binding (`genesis_hash`).
"""

from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = "1"


class IndexMeta(SQLModel, table=True):
    __tablename__ = "ol_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str


class OrgRow(SQLModel, table=True):
    __tablename__ = "ol_org"

    org_id: str = Field(primary_key=True, max_length=200)
    parent: str | None = Field(default=None, index=True, max_length=200)
    level: str = Field(max_length=16)
    name: str
    depth: int
    body: str
    value_hash: str = Field(max_length=64)
    updated_height: int


class UserRow(SQLModel, table=True):
    __tablename__ = "ol_user"

    pubkey: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=200)
    org_id: str = Field(index=True, max_length=200)
    status: str = Field(max_length=16)
    roles: str  # space-separated, with a leading and trailing space: " admin operator "
    body: str
    value_hash: str = Field(max_length=64)
    updated_height: int


class RecordRow(SQLModel, table=True):
    __tablename__ = "ol_record"
    __table_args__ = (
        Index("ix_ol_record_family_rid", "family", "rid", unique=True),
        Index("ix_ol_record_family_org", "family", "org_id", "rid"),
        Index("ix_ol_record_family_other_org", "family", "other_org_id"),
        Index("ix_ol_record_family_parent", "family", "parent_id", "rid"),
        Index("ix_ol_record_family_person", "family", "person_key"),
        Index("ix_ol_record_family_status", "family", "status"),
        Index("ix_ol_record_family_kind", "family", "kind"),
    )

    state_key: str = Field(primary_key=True, max_length=600)
    family: str = Field(max_length=32)
    rid: str = Field(max_length=600)
    parent_id: str | None = Field(default=None, max_length=600)
    org_id: str = Field(max_length=200)
    other_org_id: str | None = Field(default=None, max_length=200)
    person_key: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=64)
    kind: str | None = Field(default=None, max_length=64)
    colour: str | None = Field(default=None, max_length=16)
    day: str | None = Field(default=None, max_length=10)
    body: str
    value_hash: str = Field(max_length=64)
    updated_height: int


class PersonLink(SQLModel, table=True):
    __tablename__ = "ol_person"
    __table_args__ = (Index("ix_ol_person_person_family", "person_key", "family"),)

    state_key: str = Field(primary_key=True, max_length=600)
    person_key: str = Field(primary_key=True, max_length=64)
    family: str = Field(max_length=32)
