"""Media helpers shared by recording and composition."""
