"""The app layer: the only package that composes crawlers, nlp, alerts and reports — the CLI,
the pipeline steps, the demo and the Airflow glue. Nothing but ``dags/`` imports it."""
