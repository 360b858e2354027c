"""The Function App's triggers, one blueprint per entry point; each trigger is a few lines."""
