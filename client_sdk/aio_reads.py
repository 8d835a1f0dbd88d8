"""Reads for `AsyncLedgerClient` (client_sdk/aio.py): records, lists, member history, orgs, users
and transactions, awaited; lists are async iterators. The same flows as `LedgerClient`'s
(`client_sdk.readcore`), so the same verification (docs/sdk.md "How reads are verified") and
the same rules (client_sdk/sync_reads.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from client_sdk import core, readcore
from client_sdk.clientbase import ClientBase
from client_sdk.models import History, Page, Record
from client_sdk.readpages import ListQuery, children_query, orgs_query, records_query, users_query

T = TypeVar("T")


class AsyncReadMethods(ClientBase):
    """`AsyncLedgerClient`'s read methods (it provides `run`)."""

    async def run(self, flow: core.Flow[T]) -> T:
        raise NotImplementedError  # AsyncLedgerClient.run drives the flow

    async def record(self, family: str, record_id: str, *, min_height: int | None = None) -> Record | None:
        return await self.run(
            readcore.record_flow(
                self._reads,
                family,
                record_id,
                min_height=self._min_height(min_height),
                deadline=self._deadline(),
            )
        )

    async def archive(self, person_key: str, **kw: Any) -> Record | None:
        return await self.record("archive", person_key, **kw)

    async def alert(self, alert_id: str, **kw: Any) -> Record | None:
        return await self.record("alert", alert_id, **kw)

    async def _page(self, q: ListQuery, cursor: str | None, limit: int, min_height: int | None) -> Page:
        flow = readcore.page_flow(
            self._reads,
            q,
            cursor=cursor,
            limit=limit,
            min_height=self._min_height(min_height),
            deadline=self._deadline(),
        )
        return await self.run(flow)

    async def _iterate(self, q: ListQuery, limit: int, min_height: int | None) -> AsyncIterator[Any]:
        cursor: str | None = None
        while True:
            page = await self._page(q, cursor, limit, min_height)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def page(
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
        return await self._page(q, cursor, limit, min_height)

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
    ) -> AsyncIterator[Record]:
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
    ) -> AsyncIterator[Record]:
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
    ) -> AsyncIterator[Record]:
        return self._iterate(children_query(child, parent_id), limit, min_height)

    async def member_history(self, person_key: str, *, min_height: int | None = None) -> History:
        return await self.run(
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
    ) -> AsyncIterator[dict[str, Any]]:
        return self._iterate(orgs_query(root, subtree), limit, min_height)

    async def org(self, org_id: str, *, min_height: int | None = None) -> dict[str, Any] | None:
        return await self._entity("org", org_id, min_height)

    def users(
        self,
        *,
        org_id: str | None = None,
        subtree: bool | None = None,
        status: str | None = None,
        role: str | None = None,
        limit: int = 200,
        min_height: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        q = users_query(org_id=org_id, subtree=subtree, status=status, role=role)
        return self._iterate(q, limit, min_height)

    async def user(self, pubkey: str | bytes, *, min_height: int | None = None) -> dict[str, Any] | None:
        return await self._entity("user", pubkey if isinstance(pubkey, str) else pubkey.hex(), min_height)

    async def _entity(self, what: str, ident: str, min_height: int | None) -> dict[str, Any] | None:
        flow = readcore.entity_flow(
            self._reads, what, ident, min_height=self._min_height(min_height), deadline=self._deadline()
        )
        return await self.run(flow)

    # ------------------------------------------------------------------ transactions
    async def tx(
        self, tx_id: bytes | str, *, wait_receipt: bool = True, timeout_s: float | None = None
    ) -> dict[str, Any] | None:
        """A transaction's status, verified when committed or rejected (see `LedgerClient.tx`)."""
        tid = bytes.fromhex(tx_id) if isinstance(tx_id, str) else tx_id
        flow = readcore.tx_flow(
            self._reads, self.genesis, tid, wait_receipt=wait_receipt, deadline=self._deadline(timeout_s)
        )
        return await self.run(flow)


__all__ = ["AsyncReadMethods"]
