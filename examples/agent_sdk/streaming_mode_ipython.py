# Cells for IPython or Jupyter, where `await` works at the top level: one client kept open across cells.
from magistrate.sdk import AssistantMessage, ClaudeSDKClient, ResultMessage, TextBlock

client = ClaudeSDKClient()
await client.connect()

await client.query("What is the tallest mountain?")
async for message in client.receive_response():
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")

await client.query("And the deepest lake?")
async for message in client.receive_response():
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage):
        print(f"Turns so far: {message.num_turns}")

await client.disconnect()
