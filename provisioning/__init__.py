"""Bulk pre-provisioning of Microsoft Entra ID phone and email authentication methods."""
