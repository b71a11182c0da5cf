"""A real trainer (TRL) over the export, to see which tokens each record trains.

Needs the `train` extra. Nothing may be downloaded: the hub is switched off here,
before transformers or datasets are first imported by this package's modules.
"""

import os

for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_name] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
