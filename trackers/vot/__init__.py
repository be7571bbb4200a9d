"""VOT toolkit integration: the TraX server, pluggable trackers, workspaces and stacks."""
