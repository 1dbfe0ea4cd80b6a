//! The reconcile runtime every Eddy controller uses: clients, work queue, conditions, events, metrics, finalizers, leader election
