"""The app's route table (issue 11): routers' routes sit flat on the app, busiest first, and that order changes the
answer to no request, because no route of one router matches a path meant for another's.

Within one router the declared order still decides (`PUT /routes/order` before `PUT /routes/{route_id}`), and the
flat table keeps it."""

from __future__ import annotations

from itertools import combinations

from fastapi.routing import APIRoute
from starlette.routing import Match

from api.app import ROUTERS, TAGS, create_app
from config import Settings


def template_segments(path: str) -> list[str | None]:
    """A path template's segments, None for a parameter (which matches any one segment)."""
    return [None if part.startswith("{") else part for part in path.strip("/").split("/")]


def could_match_the_same_path(one: str, other: str) -> bool:
    first, second = template_segments(one), template_segments(other)
    return len(first) == len(second) and all(a is None or b is None or a == b for a, b in zip(first, second,
                                                                                              strict=True))


def api_routes(module: object) -> list[APIRoute]:
    return [route for route in module.router.routes if isinstance(route, APIRoute)]  # type: ignore[attr-defined]


class TestIssue11TheRouteTable:
    def test_no_route_of_one_router_matches_a_path_meant_for_another_routers(self) -> None:
        """So the routers' order in `ROUTERS` is free to follow traffic. Whatever the method: a path two routers'
        routes matched would get its 405 (and the methods it lists) from whichever came first."""
        clashes = []
        for first, second in combinations(ROUTERS, 2):
            for one in api_routes(first):
                for other in api_routes(second):
                    assert ":" not in one.path + other.path  # no converters: a parameter is one segment
                    if could_match_the_same_path(one.path, other.path):
                        clashes.append((one.path, other.path))
        assert clashes == []

    def test_every_route_of_every_router_is_on_the_app_itself_in_its_routers_order(self) -> None:
        app = create_app(Settings(environment="test"))
        on_app = [route for route in app.router.routes if isinstance(route, APIRoute)]
        declared = [route for module in ROUTERS for route in api_routes(module)]
        assert [route for route in on_app if route in declared] == declared
        assert all(isinstance(route, APIRoute) or not hasattr(route, "original_router") for route in app.router.routes)

    def test_each_documented_request_is_answered_by_its_own_route(self) -> None:
        """A request to each route's path (its parameters filled in) with each of its methods finds that route, the
        declared order inside a router included."""
        app = create_app(Settings(environment="test"))
        for route in (route for module in ROUTERS for route in api_routes(module)):
            path = "/".join("x1" if part is None else part for part in template_segments(route.path))
            for method in sorted(route.methods or ()):
                scope = {"type": "http", "method": method, "path": f"/{path}", "root_path": "", "headers": []}
                found = next(candidate for candidate in app.router.routes
                             if candidate.matches(scope)[0] == Match.FULL)
                assert found is route, (method, route.path, getattr(found, "path", found))

    def test_the_docs_list_every_tag_in_the_order_a_new_team_meets_them(self) -> None:
        app = create_app(Settings(environment="test"))
        document = app.openapi()
        used = {tag for operations in document["paths"].values() for operation in operations.values()
                for tag in operation.get("tags", [])}
        assert [tag["name"] for tag in document["tags"]] == [tag["name"] for tag in TAGS]
        assert used == {tag["name"] for tag in TAGS}
        assert document["tags"][0]["name"] == "identity"
