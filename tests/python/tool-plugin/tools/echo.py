from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class Echo(Tool):
    """What tests/plugins/tool-probe's `echo` does, message for message."""

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        text = tool_parameters["text"]
        count = float(tool_parameters.get("count", 1))
        mode = tool_parameters.get("mode")
        for _ in range(int(count)):
            yield self.create_text_message(text)
        yield self.create_json_message(
            {
                "text": text,
                "count": count,
                "mode": mode,
                "app": tool_parameters.get("app"),
                "user_id": self.runtime.user_id,
                "credential_type": self.runtime.credential_type.value,
                "credentials": list(self.runtime.credentials.keys()),
            }
        )
        yield self.create_link_message("https://dify.ai")
        yield self.create_image_message("https://dify.ai/logo.png")
        yield self.create_variable_message("echoed", text)
        words = text.split(" ")
        for piece in [w + " " for w in words[:-1]] + [words[-1]]:
            yield self.create_stream_variable_message("streamed", piece)
        if mode == "files":
            data = bytes(i % 251 for i in range(10_000))
            yield self.create_blob_message(data, meta={"mime_type": "application/octet-stream"})
