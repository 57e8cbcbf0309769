"""dumptriage: triage Windows kernel crash dumps from KVM guests."""
