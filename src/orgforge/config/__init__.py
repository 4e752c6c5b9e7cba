"""Every setting orgforge reads, as pydantic models, and the one place they are resolved.

Lookup order (later wins), the same for every command:

1. built-in defaults (the PRD's numbers, ``--preset prd`` sizes);
2. the YAML file: ``--config FILE``, else ``./orgforge.yaml`` if present;
3. ``.env`` in the working directory, then the process environment: ``ORGFORGE_<PATH>`` with
   ``__`` between levels, e.g. ``ORGFORGE_SEED=7``, ``ORGFORGE_GENERATE__ACCOUNTS=500``,
   ``ORGFORGE_WORLD=sqlite:////tmp/w.db``; values are parsed as YAML scalars/lists;
4. command-line flags.

Errors name the source (file and line, env var or flag) and the field path. Secrets (the fields
:mod:`orgforge.redact` knows hold credentials) are masked by :func:`masked`.
"""

from __future__ import annotations

from orgforge.config.loading import (
    FLAG_NAMES,
    dump,
    load_config,
    lookup,
    read_yaml_file,
    validate_config,
)
from orgforge.config.models import (
    AS_OF_RANGE,
    ASANA_TOKEN_ENV,
    BLOCK_SIZE,
    BUILTIN_ENGINES,
    BUILTIN_PROVIDERS,
    CONVERTED_LEAD_SHARE,
    DEFAULT_CONFIG_FILE,
    ENV_PREFIX,
    PRD_PER_ACCOUNT,
    PRESETS,
    WEB_TOKEN_ENV,
    ActivityConfig,
    AsanaConfig,
    BusinessHours,
    Config,
    ContentConfig,
    DensityConfig,
    ExportConfig,
    GenerateConfig,
    HttpUrl,
    SalesforceConfig,
    ScorecardConfig,
    ScorecardSalesforceConfig,
    TagConfig,
)
from orgforge.redact import masked  # re-exported: config.masked is public
from orgforge.yamlutil import line_of  # re-exported for callers that still import it here

__all__ = [
    "ASANA_TOKEN_ENV",
    "AS_OF_RANGE",
    "BLOCK_SIZE",
    "BUILTIN_ENGINES",
    "BUILTIN_PROVIDERS",
    "CONVERTED_LEAD_SHARE",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "FLAG_NAMES",
    "PRD_PER_ACCOUNT",
    "PRESETS",
    "WEB_TOKEN_ENV",
    "ActivityConfig",
    "AsanaConfig",
    "BusinessHours",
    "Config",
    "ContentConfig",
    "DensityConfig",
    "ExportConfig",
    "GenerateConfig",
    "HttpUrl",
    "SalesforceConfig",
    "ScorecardConfig",
    "ScorecardSalesforceConfig",
    "TagConfig",
    "dump",
    "line_of",
    "load_config",
    "lookup",
    "masked",
    "read_yaml_file",
    "validate_config",
]
