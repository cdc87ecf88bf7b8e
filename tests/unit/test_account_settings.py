"""R-PLAN-4 account settings, pure: which stored values are usable, how layers merge, the slot order."""

from __future__ import annotations

from importlib.resources import files

from domain.account_settings import known_zone, merged_slots, order_violations, slot_overrides, updated_overrides


class TestRPlan4SlotLayers:
    def test_only_known_slots_with_hh_mm_values_are_used_from_a_stored_layer(self) -> None:
        stored = {"morning": "09:30", "afternoon": "1pm", "noon": "12:00", "evening": 1700, "early_morning": "7:00"}
        assert slot_overrides(stored) == {"morning": "09:30"}
        assert slot_overrides(["morning"]) == slot_overrides(None) == {}

    def test_layers_merge_over_the_defaults_and_null_falls_back(self) -> None:
        assert merged_slots({"morning": "09:00"}, {"evening": "18:00", "morning": "bad"}) == {
            "early_morning": "07:00", "morning": "09:00", "afternoon": "13:00", "evening": "18:00"}
        assert updated_overrides({"morning": "09:00", "evening": "18:00"}, {"morning": None, "afternoon": "14:00"}) == {
            "evening": "18:00", "afternoon": "14:00"}
        assert updated_overrides({"morning": "09:00"}, None) == {}

    def test_zones_are_iana_names(self) -> None:
        assert [known_zone(z) for z in ("America/Denver", "Central", "", None, "Mars/Olympus")] == [
            "America/Denver", None, None, None, None]

    def test_every_zone_the_iana_database_lists_is_one_but_files_beside_them_that_name_no_zone_are_not(self) -> None:
        """`localtime` is whatever the host is set to, `Factory` the placeholder for a zone not yet set (-00),
        `posixrules` a template; `posix/…` and `right/…` are other builds of the same zones. `ZoneInfo` opens them all;
        none is a zone to store for a person."""
        listed = files("tzdata").joinpath("zones").read_text().split()  # IANA's names, links such as US/Central too
        assert [zone for zone in listed if known_zone(zone) != zone] == ["Factory"]
        assert [known_zone(z) for z in ("localtime", "Factory", "posixrules", "posix/America/Chicago", "right/UTC",
                                        "america/chicago")] == [None] * 6


class TestRPlan4SlotOrder:
    def test_each_pair_out_of_order_is_named_at_the_slot_that_changed(self) -> None:
        slots = merged_slots({"early_morning": "10:00", "evening": "13:00"})
        got = order_violations(slots, field="slot_times", changed={"early_morning", "evening"})
        assert [(v.field, v.rule) for v in got] == [("slot_times.early_morning", "R-PLAN-4"),
                                                    ("slot_times.evening", "R-PLAN-4")]
        assert got[0].message.startswith("morning (10:00) must be later than early_morning (10:00)")

    def test_pairs_outside_the_concerned_slots_are_left_to_another_check(self) -> None:
        slots = merged_slots({"afternoon": "09:00"})
        assert order_violations(slots, field="slot_times", changed=set(), concerns={"evening"}) == []
        assert order_violations(merged_slots(), field="slot_times", changed=set()) == []
