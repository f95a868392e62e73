"""A scenario's cleanup lets its unfinished backups finish before deleting
them: Velero works on one backup at a time, and one whose objects are
deleted under it blocks every later backup on the cluster for hours."""
from runner.driver import Driver
from runner.driver.waits import WaitTimeout


class FakeVelero:
    def __init__(self, phases, stuck=()):
        self.phases, self.stuck, self.waited = phases, set(stuck), []

    def backups(self, label_selector=None):
        return [{"metadata": {"name": name}, "status": {"phase": phase} if phase else {}}
                for name, phase in self.phases.items()]

    def wait_backup(self, name, timeout="backup"):
        self.waited.append(name)
        if name in self.stuck:
            raise WaitTimeout(f"timed out waiting for Backup {name}")


def test_only_the_scenarios_unfinished_backups_are_waited_for():
    velero = FakeVelero({"ours-running": "InProgress", "ours-new": None, "ours-done": "Completed",
                         "theirs-running": "InProgress"})
    assert Driver._await_backups(velero, velero.backups(), {"ours-running", "ours-new", "ours-done"}) is None
    assert velero.waited == ["ours-running", "ours-new"]


def test_a_backup_that_does_not_finish_is_reported_and_not_waited_on_again():
    velero = FakeVelero({"stuck": "InProgress", "queued": "New"}, stuck={"stuck"})
    timeout = Driver._await_backups(velero, velero.backups(), {"stuck", "queued"})
    assert "stuck" in str(timeout) and velero.waited == ["stuck"]
