"""KPIs and reports computed from the world and the logs."""
