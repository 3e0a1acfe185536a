"""NLP enrichment: language, Traditional/Simplified normalisation, sentiment, emotion,
complaint category, topics and near-duplicate groups, from one shared encoder pass.

The entry point is ``nlp.enrich`` (``enrich``, ``enrich_batch``, ``enrich_store``). This
package module deliberately imports nothing: every ``import nlp.x`` runs it first, so a
re-export here would tie each submodule to the enrichment pipeline (an import cycle), and a
function named ``enrich`` here would be replaced by the submodule of that name on import.

Heavy libraries (torch, transformers, BERTopic) load on first use, not on import, so that
the CLI and Airflow DAG parsing stay fast.
"""
