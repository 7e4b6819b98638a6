"""The web layer: one blueprint per screen, templates under templates/<screen>/."""
