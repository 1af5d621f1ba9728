"""The SMWAN: the hub's MQTT link to the central system (``link.py``) and its topic layout."""

from .link import Broker, HubLink, down_topic, up_topic

__all__ = ["Broker", "HubLink", "down_topic", "up_topic"]
