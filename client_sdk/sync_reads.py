"""Reads for `LedgerClient`: records, lists with cursor pagination, member history, orgs and users
(client_sdk/client.py states the rules; request shapes are `client_sdk.core`).

Rules:

- Single-record reads answer None for absent or out-of-scope; lists are iterators that follow
  the read API's cursor pages, `page()` returns one page.
- With `read_your_writes` every read carries the session height as `min_height` unless given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from client_sdk import core
from client_sdk.errors import NotFoundError
from client_sdk.models import History, Page, Record
from client_sdk.sync_http import SyncDriver


class ReadMethods(SyncDriver):
    """`LedgerClient`'s read methods."""

    def record(self, family: str, record_id: str, *, min_height: int | None = None) -> Record | None:
        """One record by id from the ledger state; None when absent or outside your subtree."""
        try:
            return core.record_of(self._get(core.record_path(family, record_id), min_height=min_height))
        except NotFoundError:
            return None

    def archive(self, person_key: str, **kw: Any) -> Record | None:
        return self.record("archive", person_key, **kw)

    def alert(self, alert_id: str, **kw: Any) -> Record | None:
        return self.record("alert", alert_id, **kw)

    def page(
        self,
        family: str,
        *,
        cursor: str | None = None,
        limit: int = 50,
        min_height: int | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        type: str | None = None,
        person_key: str | None = None,
        colour: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Page:
        """One page of a record family (`archive`, `material`, `pipeline`, `transfer`, `meeting`,
        `decision`, `alert`), filtered as docs/api.md says."""
        params = self._list_params(
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._page(f"/v1/{core.family_path(family)}", True, cursor, limit, min_height, params)

    def _page(
        self,
        path: str,
        records: bool,
        cursor: str | None,
        limit: int,
        min_height: int | None,
        params: dict[str, Any],
    ) -> Page:
        flow = core.page_flow(
            path,
            records=records,
            deadline=self._deadline(),
            cursor=cursor,
            limit=limit,
            min_height=self._min_height(min_height),
            **params,
        )
        return self.run(flow)

    def _iterate(
        self, path: str, records: bool, limit: int, min_height: int | None, params: dict[str, Any]
    ) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = self._page(path, records, cursor, limit, min_height, params)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def records(
        self,
        family: str,
        *,
        limit: int = 200,
        min_height: int | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        type: str | None = None,
        person_key: str | None = None,
        colour: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Iterator[Record]:
        """Every record of a family matching the filters, page after page (`limit` per page)."""
        params = self._list_params(
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._iterate(f"/v1/{core.family_path(family)}", True, limit, min_height, params)

    def alerts(
        self,
        *,
        colour: str | None = None,
        rule_id: str | None = None,
        status: str | None = None,
        org_id: str | None = None,
        subtree: bool | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[Record]:
        """Alerts of your subtree: by colour (RED/YELLOW/BLUE), rule id, status, org, raised date."""
        return self.records(
            "alert",
            colour=colour,
            type=rule_id,
            status=status,
            org_id=org_id,
            subtree=subtree,
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            min_height=min_height,
        )

    def children(
        self, child: str, parent_id: str, *, limit: int = 200, min_height: int | None = None
    ) -> Iterator[Record]:
        """A record's versions, a pipeline's steps or a transfer's transfer-in records:
        `child` is archive_version, material_version, meeting_version, decision_version,
        pipeline_step or transfer_in."""
        return self._iterate(core.children_path(child, parent_id), True, limit, min_height, {})

    def member_history(self, person_key: str, *, min_height: int | None = None) -> History:
        """Everything about one person your subtree may see (at most 2000 items, `truncated`)."""
        return core.history_of(
            self._get(f"/v1/members/{core.seg(person_key)}/history", min_height=min_height)
        )

    # ------------------------------------------------------------------ orgs and users
    def orgs(
        self,
        *,
        root: str | None = None,
        subtree: bool = True,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The org tree under `root` (default: your org)."""
        return self._iterate("/v1/orgs", False, limit, min_height, {"root": root, "subtree": subtree})

    def org(self, org_id: str, *, min_height: int | None = None) -> dict[str, Any] | None:
        try:
            return dict(self._get(f"/v1/orgs/{core.seg(org_id)}", min_height=min_height)["item"])
        except NotFoundError:
            return None

    def users(
        self,
        *,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        role: str | None = None,
        limit: int = 200,
        min_height: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Users (keys) of your subtree, filtered by org, status and role."""
        params = {"org_id": org_id, "subtree": subtree, "status": status, "role": role}
        return self._iterate("/v1/users", False, limit, min_height, params)

    def user(self, pubkey: str | bytes, *, min_height: int | None = None) -> dict[str, Any] | None:
        hexkey = pubkey if isinstance(pubkey, str) else pubkey.hex()
        try:
            return dict(self._get(f"/v1/users/{hexkey}", min_height=min_height)["item"])
        except NotFoundError:
            return None

    # ------------------------------------------------------------------ network membership
    def validators(self) -> dict[str, Any]:
        """The node's `/v1/validators` answer, its epochs verified from the genesis (the client's
        anchor learns them): `epochs` (proven), `scheduled`, `nodes` (the registry)."""
        doc = self._get("/v1/validators", min_height=0)
        self._learn_epochs(doc)
        return doc

    def proposals(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Node governance proposals (OPEN, EXECUTED, WITHDRAWN or EXPIRED), oldest first."""
        doc = self._get("/v1/governance/proposals", min_height=0, status=status)
        return list(doc["items"])

    def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        """One node governance proposal with its approvals and outcome; None when unknown."""
        try:
            return dict(self._get(f"/v1/governance/proposals/{proposal_id}", min_height=0)["item"])
        except NotFoundError:
            return None
