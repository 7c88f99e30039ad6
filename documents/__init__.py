"""Official documents (公文): drafting, routes, steps, tasks, opinions and history."""
