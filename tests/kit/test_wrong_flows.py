"""The kit tests its own scenarios: each known-wrong flow must be caught.

A scenario suite that passes everything proves little. Each flow of ``WRONG`` in
``mistakes.py`` is the reference solution with one plausible mistake (its module
docstring says which), written out to a temporary folder. Here the whole scenario
suite runs against each of them, through the grader, and the family meant to catch
the mistake must report at least one failure. (That the solution scores 100 and the
starter 0 is checked in ``test_grader.py``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mistakes import CLASS_TIMEOUT, WRONG, Mistake, MistakeOutdated, write_flow

from chatkit.grading.results import GradeReport, Outcome

CATCHERS: dict[str, tuple[str, ...]] = {
    "no_dedup": ("duplicates",),
    "dedup_by_body": ("duplicates",),
    "keyed_by_server_id": ("normal flow", "duplicates"),
    "rollback_removes": ("failure and rollback",),
    "rollback_fails_sent": ("failure and rollback", "edge cases"),
    "status_regresses": ("edge cases", "server-first arrival"),
    "timestamp_ids": ("edge cases",),
    "linear_scan": ("scale",),
    "sending_never_cleared": ("edge cases", "failure and rollback"),
    "module_counter_ids": ("concurrency",),
    "id_numbered_ids": ("concurrency",),
    "ids_from_row_count": ("concurrency",),
    "short_random_ids": ("concurrency",),
    "ids_of_8_hex_digits": ("concurrency",),
    "ids_of_8_hex_digits_then_the_chat": ("concurrency",),
    "created_at_cut_to_seconds": ("edge cases",),
    "local_time_labelled_utc": ("edge cases",),
    "rollback_restamps_created_at": ("failure and rollback",),
    "retry_restamps_created_at": ("failure and rollback",),
    "pending_retry_makes_a_new_row": ("edge cases",),
    "waits_on_the_clock_after_the_ack": ("normal flow",),
    "ids_kept_at_module_level": ("scale",),
    "ids_kept_in_a_cache": ("scale",),
    "delivery_left_to_a_task": ("normal flow", "all timelines"),
    "settled_by_a_task": ("normal flow", "all timelines"),
    "raises_after_rollback": ("failure and rollback",),
    "stale_retry_kept": ("scale",),
    "others_ids_kept": ("scale",),
    "echo_first_ids_kept": ("scale",),
    "ids_kept_under_a_private_name": ("scale",),
    "unsettled_kept_after_failure": ("scale",),
    "time_out_walks_to_its_row": ("scale",),
    "retry_looks_from_the_bottom": ("scale",),
    "echo_first_rebuilds_the_rows": ("scale",),
    "ids_kept_in_a_chat_of_its_own": ("scale",),
    "own_time_out_not_caught": ("failure and rollback",),
    "ids_from_own_count": ("duplicates",),
    "new_id_after_two_retries": ("edge cases",),
    "awaits_before_showing": ("normal flow",),
    "copy_returned_after_failure": ("failure and rollback",),
    "retry_returns_nothing": ("failure and rollback",),
    "blank_checked_by_hand": ("edge cases",),
    "rollback_in_the_open_chat": ("concurrency",),
    "stale_retry_clears_the_banner": ("edge cases",),
    "created_at_read_at_import": ("edge cases",),
    "awaits_history_before_showing": ("normal flow",),
    "sending_shown_a_turn_late": ("normal flow",),
    "failure_reason_kept_after_confirm": ("edge cases",),
    "words_tidied_before_sending": ("edge cases",),
    "rollback_tidies_the_words": ("failure and rollback",),
    "windows_line_breaks_tidied": ("edge cases",),
    "retry_tidies_the_words": ("failure and rollback",),
    "others_in_open_chat": ("concurrency",),
    "dedup_by_seq_only": ("concurrency", "duplicates"),
    "dedup_others_by_seq": ("duplicates",),
    "seen_lately_skipped": ("duplicates",),
    "rollback_only_while_pending": ("edge cases",),
    "ack_only_while_pending": ("edge cases",),
    "retries_by_itself": ("failure and rollback", "edge cases"),
    "id_and_seq_swapped": ("normal flow", "concurrency"),
    "others_dedup_by_author_body": ("duplicates",),
    "escape_incoming": ("edge cases",),
    "length_in_bytes": ("edge cases",),
    "strip_before_check": ("edge cases",),
    "retry_keeps_error": ("edge cases", "failure and rollback"),
    "naive_datetime": ("normal flow",),
    "old_messages_walked_into_place": ("scale",),
    "old_messages_shifted_into_place": ("scale",),
    "new_id_checked_against_rows": ("scale",),
    "retry_walks_to_its_row": ("scale",),
    "late_confirmation_moves_the_row": ("scale",),
}
"""Each wrong flow, and the families that must each fail at least one scenario on it."""

BLAMED: dict[str, tuple[set[int], set[str]]] = {
    "no_dedup": ({3, 12}, {"reconcile"}),
    "dedup_by_body": ({13}, {"reconcile"}),
    "keyed_by_server_id": ({3, 12}, {"reconcile"}),
    "rollback_removes": ({6}, {"rollback"}),
    "rollback_fails_sent": ({4}, {"rollback"}),
    "status_regresses": ({4}, {"send"}),
    "timestamp_ids": ({10}, {"send"}),
    "linear_scan": ({16}, {"send", "reconcile", "rollback"}),  # all three walk the timeline
    "sending_never_cleared": ({14}, {"reconcile", "rollback"}),  # both forget in_flight
    "module_counter_ids": ({10}, {"send"}),
    "id_numbered_ids": ({10}, {"send"}),
    "ids_from_row_count": ({10}, {"send"}),
    "short_random_ids": ({10}, {"send"}),
    "ids_of_8_hex_digits": ({10}, {"send"}),
    "ids_of_8_hex_digits_then_the_chat": ({10}, {"send"}),
    "created_at_cut_to_seconds": ({1}, {"send"}),
    "local_time_labelled_utc": ({1}, {"send"}),
    "rollback_restamps_created_at": ({6}, {"rollback"}),
    "retry_restamps_created_at": ({8}, {"send"}),
    "pending_retry_makes_a_new_row": ({3}, {"send"}),
    "waits_on_the_clock_after_the_ack": ({7}, {"send"}),
    "ids_kept_at_module_level": ({14}, {"send"}),
    "ids_kept_in_a_cache": ({14}, {"send"}),
    "delivery_left_to_a_task": ({15}, {"send"}),
    "settled_by_a_task": ({15}, {"send"}),
    "raises_after_rollback": ({6}, {"send"}),
    "stale_retry_kept": ({14}, {"send"}),
    "others_ids_kept": ({14}, {"reconcile"}),
    "echo_first_ids_kept": ({14}, {"send", "reconcile"}),
    "ids_kept_under_a_private_name": ({14}, {"send"}),
    "unsettled_kept_after_failure": ({14}, {"send"}),
    "time_out_walks_to_its_row": ({16}, {"send"}),
    "retry_looks_from_the_bottom": ({16}, {"send"}),
    "echo_first_rebuilds_the_rows": ({16}, {"send"}),
    "ids_kept_in_a_chat_of_its_own": ({14}, {"send"}),
    "own_time_out_not_caught": ({6}, {"send"}),
    "ids_from_own_count": ({10}, {"send"}),
    "new_id_after_two_retries": ({8}, {"send"}),
    "awaits_before_showing": ({1}, {"send"}),
    "copy_returned_after_failure": ({2}, {"send"}),
    "retry_returns_nothing": ({2}, {"send"}),
    "blank_checked_by_hand": ({11}, {"send"}),
    "rollback_in_the_open_chat": ({7, 14}, {"rollback"}),
    "stale_retry_clears_the_banner": ({7}, {"send"}),
    "created_at_read_at_import": ({1}, {"send"}),
    "awaits_history_before_showing": ({1}, {"send"}),
    "sending_shown_a_turn_late": ({7}, {"send"}),
    "failure_reason_kept_after_confirm": ({5}, {"reconcile"}),
    "words_tidied_before_sending": ({6}, {"send"}),
    "rollback_tidies_the_words": ({6}, {"rollback"}),
    "windows_line_breaks_tidied": ({6}, {"send"}),
    "retry_tidies_the_words": ({6}, {"send"}),
    "others_in_open_chat": ({9}, {"reconcile"}),
    "dedup_by_seq_only": ({9}, {"reconcile"}),
    "dedup_others_by_seq": ({9, 12}, {"reconcile"}),
    "seen_lately_skipped": ({12}, {"reconcile"}),
    "rollback_only_while_pending": ({6, 7}, {"rollback"}),
    # the row's last change was rollback's; send's guard made none when the ack came
    "ack_only_while_pending": ({5}, {"rollback"}),
    "retries_by_itself": ({15}, {"send"}),
    "id_and_seq_swapped": ({5}, {"reconcile"}),
    "others_dedup_by_author_body": ({13}, {"reconcile"}),
    "escape_incoming": ({5}, {"reconcile"}),
    "length_in_bytes": ({11}, {"send"}),
    "strip_before_check": ({11}, {"send"}),
    "retry_keeps_error": ({7}, {"send"}),
    "naive_datetime": ({1}, {"send"}),
    "old_messages_walked_into_place": ({16}, {"reconcile"}),
    "old_messages_shifted_into_place": ({16}, {"reconcile"}),
    "new_id_checked_against_rows": ({16}, {"send"}),
    "retry_walks_to_its_row": ({16}, {"send"}),
    "late_confirmation_moves_the_row": ({16}, {"reconcile"}),
}
"""Each wrong flow: the rules its catching families must name, and the functions they must
blame (the one the mistake is in), for every scenario of theirs that fails."""

ONLY_CAUGHT_BY: dict[str, str] = {
    "linear_scan": "scale",
    "old_messages_walked_into_place": "scale",
    "old_messages_shifted_into_place": "scale",
    "new_id_checked_against_rows": "scale",
    "retry_walks_to_its_row": "scale",
    "late_confirmation_moves_the_row": "scale",
    "ids_kept_at_module_level": "scale",
    "ids_kept_in_a_cache": "scale",
    "stale_retry_kept": "scale",
    "others_ids_kept": "scale",
    "echo_first_ids_kept": "scale",
    "ids_kept_under_a_private_name": "scale",
    "unsettled_kept_after_failure": "scale",
    "time_out_walks_to_its_row": "scale",
    "retry_looks_from_the_bottom": "scale",
    "echo_first_rebuilds_the_rows": "scale",
    "ids_kept_in_a_chat_of_its_own": "scale",
}
"""Wrong flows that are right in every other way: no other family may fail them."""


def test_every_wrong_flow_is_listed() -> None:
    assert sorted(mistake.name for mistake in WRONG) == sorted(CATCHERS) == sorted(BLAMED)


def test_a_mistake_that_no_longer_fits_the_solution_fails_loudly(tmp_path: Path) -> None:
    """An edit whose text is not in the solution exactly once is an error, never skipped."""
    gone = Mistake("gone", doc="Gone.", edits=(("    message = state.find(id)\n", "    pass\n"),))
    with pytest.raises(MistakeOutdated, match=r"'gone', edit 1.*found 0 times") as raised:
        write_flow(gone, tmp_path)
    assert "state.find(id)" in str(raised.value)
    twice = Mistake("twice", doc="Twice.", edits=(("message", "row"),))
    with pytest.raises(MistakeOutdated, match=r"found [0-9]+ times"):
        write_flow(twice, tmp_path)
    assert not (tmp_path / "gone").exists() and not (tmp_path / "twice").exists()


def failures_by_family(report: GradeReport) -> dict[str, int]:
    return {family.family.name: family.total - family.passed for family in report.families}


def table(report: GradeReport) -> str:
    return "\n".join(
        f"  {family.family.name:<22} {family.passed:>3} passed {family.total - family.passed:>3} failed"
        for family in report.families
    )


@pytest.mark.timeout(CLASS_TIMEOUT)
@pytest.mark.parametrize("name", sorted(CATCHERS))
def test_wrong_flow_is_caught(name: str, graded_mistake: Callable[[str], GradeReport]) -> None:
    """The family meant to catch this mistake fails at least one scenario, and every
    failure there names the rule the mistake breaks and blames the function it is in."""
    report = graded_mistake(name)
    failures = failures_by_family(report)
    for family in CATCHERS[name]:
        assert failures.get(family, 0) > 0, (
            f"{name}: no {family!r} scenario failed\n{table(report)}"
        )
    rules, functions = BLAMED[name]
    for result in report.results:
        if result.family in CATCHERS[name] and result.outcome is not Outcome.PASSED:
            number = int(result.rule.split(",")[0].removeprefix("rule ")) if result.rule else None
            assert number in rules, f"{name}: {result.name} names {result.rule}, not rule {rules}"
            assert result.function in functions, (
                f"{name}: {result.name} blames {result.function}, not {functions}"
            )
    only = ONLY_CAUGHT_BY.get(name)
    if only is not None:
        others = [family for family, failed in failures.items() if family != only and failed]
        assert not others, f"{name} is only slow, yet {others} failed\n{table(report)}"
