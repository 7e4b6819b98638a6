"""Domain services: functions that take ids and options and return plain results."""
