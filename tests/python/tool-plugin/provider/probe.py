from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError


class ProbeProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        key = credentials.get("api_key")
        if key != "sesame":
            raise ToolProviderCredentialValidationError(
                f"the API key '{key}' is not the probe's (it is 'sesame')"
            )
