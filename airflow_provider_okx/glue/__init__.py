"""Airflow-side helpers shared by the operators, sensors and triggers: version compatibility,
templating, extra links, lineage, asset events and how task failures are raised."""
