"""`llm_option`: the `llm` section of params.yaml for a stage command, with `--llm KEY=VALUE`
overrides, as one validated `LLMSettings` argument named `llm`."""

from stages.common.llm.settings import LLMSettings, LLMSettingsError
from stages.common.params import section_option

llm_option = section_option("llm", LLMSettings.from_params, LLMSettingsError, "provider=openai")
