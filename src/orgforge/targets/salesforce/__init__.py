"""The Salesforce target: validate, load, cleanup and smoke-test a real org (or the sandbox).

Built on simple-salesforce for login (sf CLI, JWT bearer, username/password, access token) and
its session; every request goes through one retrying path (``client.py``).

How a load stays safe, resumable and idempotent
------------------------------------------------
The world's ``sync`` table maps each record key to its remote id per target
(``salesforce:<org id>``); a rerun sends only keys that have no loaded row, so a rerun after
success writes nothing. Parents go before children (schema load order); lookups are resolved
from ``sync`` (polymorphic WhoId/WhatId by the key's object prefix); a record whose parent
failed is skipped and reported (``PARENT_FAILED``), never created orphaned.

The **journal** (``sync_journal``) is written and committed *before* a batch is sent: its keys,
and for Bulk API 2.0 the job id (recorded after the job is created and before any data is
uploaded). The answers are stored in ``sync`` and the journal row deleted in one transaction.
A row left in the journal therefore means exactly "this batch may or may not have been applied"
(a crash or kill -9 between send and store, or a 5xx/connection error on a create). Before
anything else, the next load or cleanup *reconciles* each such batch against the org, and only
what is not found is sent again. How records are found depends on the key mode, chosen per
object (``salesforce.external_id``; ``auto`` reads the org's describe):

``upsert``  the org has ``Orgforge_Key__c`` as an External ID: REST upserts on it (PATCH
            /composite/sobjects/{object}/Orgforge_Key__c) and Bulk upsert jobs. Reconciling
            queries the key. **Guarantee: no duplicate and no lost record, whatever the moment
            of the crash** — even a request still running in the org when we look again can only
            update the record it created.
``key``     the field exists but is not an External ID: inserts write the key, reconciling
            queries it (records of several objects share one request, so fewer calls).
            **Guarantee: none lost; no duplicate if the field is Unique** (a second insert is
            refused with DUPLICATE_VALUE and orgforge adopts the first). Without Unique, a
            duplicate is possible only if a request lost in a crash is still executing in the
            org when the next run looks for it.
``none``    the org has no key field: a lost batch is found by *fingerprint*: records of that
            object created by the loading user since the batch started (minus 10 minutes of
            clock skew), narrowed by one field (Name, LastName, Subject, ParentId…), matched on
            every string, picklist, email, phone, url, date and lookup value sent. Bulk results,
            which carry no key, are matched to records the same way (exact row values).
            **Guarantee: none lost; no duplicate unless the same user creates records with
            identical values in that window, or a lost request is still executing.** Prefer
            creating ``Orgforge_Key__c`` (Text 80, External ID, Unique) on each object.

Upserts that answer ``created: false`` for a key orgforge never sent mean the record existed
before: it is marked ``adopted`` (used as a parent, never deleted by cleanup).

Retries: 429/REQUEST_LIMIT_EXCEEDED and expired sessions (re-auth once) are resent; 5xx and
connection errors are resent for idempotent calls and reconciled first for creates; per-record
UNABLE_TO_LOCK_ROW and the like are retried in later batches with bounded backoff
(``salesforce.max_retries``). Everything else is reported in ``errors.jsonl`` with Salesforce's
code, message and fields.

REST or Bulk (``--api auto``): an object goes through Bulk API 2.0 when it has at least
``salesforce.bulk_threshold`` (default 2,000) records to send — one job costs ~5 requests
whatever its size, against ⌈n/200⌉ for sObject Collections — and REST otherwise.
"""

from orgforge.targets.salesforce.client import SalesforceClient

__all__ = ["SalesforceClient"]
