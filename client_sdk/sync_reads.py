"""Reads for `LedgerClient`: records, lists with cursor pagination, member history, orgs and users
(client_sdk/client.py states the rules; the flows, and their verification, are
`client_sdk.readcore`).

Rules:

- Every read is verified against its proof unless the client has `verify_reads=False`
  (docs/sdk.md "How reads are verified"): what does not verify raises VerificationError and is
  never returned.
- Single-record reads answer None for absent or out-of-scope (the node's word: a 404 carries no
  proof); lists are iterators that follow the read API's cursor pages, `page()` returns one page.
- With `read_your_writes` every read carries the session height as `min_height` unless given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from client_sdk import readcore
from client_sdk.errors import NotFoundError
from client_sdk.models import History, Page, Record
from client_sdk.readpages import ListQuery, children_query, orgs_query, records_query, users_query
from client_sdk.sync_http import SyncDriver


class ReadMethods(SyncDriver):
    """`LedgerClient`'s read methods."""

    def record(self, family: str, record_id: str, *, min_height: int | None = None) -> Record | None:
        """One record by id from the ledger state, proven; None when absent or outside your subtree."""
        return self.run(
            readcore.record_flow(
                self._reads,
                family,
                record_id,
                min_height=self._min_height(min_height),
                deadline=self._deadline(),
            )
        )

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
        `decision`, `alert`), filtered as docs/api.md says; `complete` says whether it is proven
        to leave nothing out."""
        q = records_query(
            family,
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._page(q, cursor, limit, min_height)

    def _page(self, q: ListQuery, cursor: str | None, limit: int, min_height: int | None) -> Page:
        flow = readcore.page_flow(
            self._reads,
            q,
            cursor=cursor,
            limit=limit,
            min_height=self._min_height(min_height),
            deadline=self._deadline(),
        )
        return self.run(flow)

    def _iterate(self, q: ListQuery, limit: int, min_height: int | None) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = self._page(q, cursor, limit, min_height)
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
        q = records_query(
            family,
            org_id=org_id,
            subtree=subtree,
            status=status,
            type=type,
            person_key=person_key,
            colour=colour,
            date_from=date_from,
            date_to=date_to,
        )
        return self._iterate(q, limit, min_height)

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
        return self._iterate(children_query(child, parent_id), limit, min_height)

    def member_history(self, person_key: str, *, min_height: int | None = None) -> History:
        """Everything about one person your subtree may see (at most 2000 items, `truncated`)."""
        return self.run(
            readcore.history_flow(
                self._reads, person_key, min_height=self._min_height(min_height), deadline=self._deadline()
            )
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
        return self._iterate(orgs_query(root, subtree), limit, min_height)

    def org(self, org_id: str, *, min_height: int | None = None) -> dict[str, Any] | None:
        return self._entity("org", org_id, min_height)

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
        q = users_query(org_id=org_id, subtree=subtree, status=status, role=role)
        return self._iterate(q, limit, min_height)

    def user(self, pubkey: str | bytes, *, min_height: int | None = None) -> dict[str, Any] | None:
        return self._entity("user", pubkey if isinstance(pubkey, str) else pubkey.hex(), min_height)

    def _entity(self, what: str, ident: str, min_height: int | None) -> dict[str, Any] | None:
        flow = readcore.entity_flow(
            self._reads, what, ident, min_height=self._min_height(min_height), deadline=self._deadline()
        )
        return self.run(flow)

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
