"""Agents that react to an org's change events: lead routing, first touch, (later) outreach.

The pieces, each in its own module:

* :mod:`~orgforge.agents.events`: ``ChangeEvent``, the one shape every feed yields (the world's
  change log, Salesforce polling, streaming), modelled on Salesforce's ``ChangeEventHeader``.
* :mod:`~orgforge.agents.policy`: the routing policy file (YAML, validated, ``file:line`` errors).
* :mod:`~orgforge.agents.hours`: working hours, time zones and out-of-office per rep, and
  durations counted in working time.
* :mod:`~orgforge.agents.routing`: ``Router`` — deterministic rules (account match, segment by
  employees, region by country, weighted round robin with caps, shift and OOO skipping,
  fallback, SLA reassignment). Every decision lists the candidates considered, the exclusions
  with reasons and the scores, so it explains itself and a log of them replays exactly.
* :mod:`~orgforge.agents.first_touch`: time to first response, raw and in working hours, with
  system delay (created → assigned) kept apart from rep delay (assigned → first touch).
* :mod:`~orgforge.agents.flywheel`: one JSONL line per decision, per workload per day, and the
  replay that re-runs a log's decisions and reports any that differ.
"""
