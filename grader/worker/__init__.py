"""The worker process that runs student code, and the grader's side of it (see README, "Isolation")."""
