"""The informers the volume controllers share: claims, volumes, classes and nodes."""

from __future__ import annotations

from dataclasses import dataclass

from ku7s.client.informer import Informer, InformerFactory


@dataclass(frozen=True)
class StorageInformers:
    claims: Informer
    volumes: Informer
    classes: Informer
    nodes: Informer

    @classmethod
    def of(cls, factory: InformerFactory) -> StorageInformers:
        return cls(
            factory.informer("/api/v1/persistentvolumeclaims"),
            factory.informer("/api/v1/persistentvolumes"),
            factory.informer("/apis/storage.k8s.io/v1/storageclasses"),
            factory.informer("/api/v1/nodes"),
        )

    def all(self) -> list[Informer]:
        return [self.claims, self.volumes, self.classes, self.nodes]
