"""Platform adapters (terminal, Discord, Slack): platform events in, replies out; nothing about SQL."""
