"""Every list answers a page: `limit` (1–500, default 100) items from `offset` (at most 1,000,000: a number the
database takes as it is, where a larger one would overflow its integer). A list that may hold more says where the
next page is in a `Link: <…>; rel="next"` header, found by reading one item more than the page (no count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

MAX_PAGE = 500
MAX_OFFSET = 1_000_000
T = TypeVar("T")


class Page(BaseModel):
    limit: int
    offset: int

    @property
    def fetch(self) -> int:
        """Rows to read: the page and one more, to know whether a next page exists."""
        return self.limit + 1

    def cut(self, rows: Sequence[T], request: Request, response: Response) -> list[T]:
        """The page of `rows` (read with `fetch`), linking the next page when there is one."""
        if len(rows) > self.limit:
            following = request.url.include_query_params(limit=self.limit, offset=self.offset + self.limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return list(rows[: self.limit])


Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (at most 1,000,000)")]


async def page(limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (at most 500)")] = 100,
               offset: Offset = 0) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page)]
