"""The CronJob controller's schedule arithmetic and the disruption controller's counts."""

from __future__ import annotations

import datetime

from control_plane.controllers.cronjob import job_name, most_recent_time, next_time
from control_plane.controllers.disruption import scaled

UTC = datetime.UTC


def _cronjob(schedule: str, created: str, **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "backup", "creationTimestamp": created},
        "spec": {"schedule": schedule, **spec},
        "status": {},
    }


def test_the_latest_missed_time_is_run_and_nothing_before_creation():
    cronjob = _cronjob("*/5 * * * *", "2026-01-01T00:01:00Z")
    now = datetime.datetime(2026, 1, 1, 0, 12, 30, tzinfo=UTC)
    assert most_recent_time(cronjob, now) == datetime.datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    early = datetime.datetime(2026, 1, 1, 0, 4, tzinfo=UTC)
    assert most_recent_time(cronjob, early) is None
    assert next_time(cronjob, early) == datetime.datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def test_a_time_already_run_is_not_run_again():
    cronjob = _cronjob("@hourly", "2026-01-01T00:00:00Z")
    cronjob["status"] = {"lastScheduleTime": "2026-01-01T03:00:00Z"}
    assert most_recent_time(cronjob, datetime.datetime(2026, 1, 1, 3, 30, tzinfo=UTC)) is None
    assert most_recent_time(
        cronjob, datetime.datetime(2026, 1, 1, 4, 0, 0, tzinfo=UTC)
    ) == datetime.datetime(2026, 1, 1, 4, tzinfo=UTC)


def test_the_schedule_is_read_in_its_time_zone():
    cronjob = _cronjob("0 9 * * *", "2026-06-01T00:00:00Z", timeZone="Europe/Paris")
    due = most_recent_time(cronjob, datetime.datetime(2026, 6, 1, 7, 30, tzinfo=UTC))
    assert due is not None and due.astimezone(UTC) == datetime.datetime(2026, 6, 1, 7, tzinfo=UTC)


def test_jobs_are_named_by_the_minute_they_were_scheduled_for():
    moment = datetime.datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert job_name(_cronjob("* * * * *", ""), moment) == f"backup-{int(moment.timestamp()) // 60}"


def test_budget_percentages_round_as_upstream():
    assert scaled("50%", 3, round_up=True) == 2
    assert scaled("34%", 3, round_up=True) == 2
    assert scaled(2, 10, round_up=True) == 2


async def test_forbid_skips_a_run_while_one_is_active_and_keeps_the_time_due():
    from control_plane.controllers.cronjob import CronJobController
    from tests.unit.test_controllers import RecordingAPI, feed

    api = RecordingAPI()
    controller = CronJobController(api)  # type: ignore[arg-type]
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": "default", "uid": "cj-1",
                     "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"spec": {"template": {"spec": {}}}}},
        "status": {},
    }  # fmt: skip
    running = {
        "metadata": {"name": "backup-1", "namespace": "default", "uid": "j-1",
                     "ownerReferences": [{"kind": "CronJob", "name": "backup", "uid": "cj-1",
                                          "controller": True}]},
        "status": {"active": 1},
    }  # fmt: skip
    feed(controller.cronjobs, cronjob)
    feed(controller.jobs, running)
    await controller.reconcile("default/backup")
    assert api.made("create") == []
    [(_, _, patch)] = api.made("patch")
    assert "lastScheduleTime" not in patch["status"] or patch["status"]["lastScheduleTime"] is None
    assert patch["status"]["active"][0]["name"] == "backup-1"
    # Allow starts one at once, named for the minute it was due.
    cronjob["spec"]["concurrencyPolicy"] = "Allow"  # type: ignore[index]
    feed(controller.cronjobs, cronjob)
    await controller.reconcile("default/backup")
    [(_, path, job)] = api.made("create")
    assert path == "/apis/batch/v1/namespaces/default/jobs"
    assert job["metadata"]["ownerReferences"][0]["uid"] == "cj-1"
    assert api.made("patch")[-1][2]["status"]["lastScheduleTime"]
