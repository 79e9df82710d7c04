"""ValidatingAdmissionPolicy: CEL checks of writes declared by policies and bindings."""
