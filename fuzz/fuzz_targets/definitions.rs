//! Definition files: YAML (several documents, syntax recovery) and JSON, Kubernetes and ARM
//! forms, decoded and validated into a plan. No panic; every resource read encodes and
//! decodes back to itself; a second build with the first one's accepted resources as its
//! "last good" gives the same plan.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use model::resource::{Decoded, decode};
use model::{Accepted, Unreadable};
use registry::load::{Loaded, load_text};
use sse_connector_fuzz::MemEnv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for file in ["registry/plant.yaml", "registry/plant.json"] {
        let mut loaded = Loaded::default();
        load_text(Path::new(file), text, &mut loaded);
        for located in &loaded.definitions {
            let value = located
                .resource
                .to_value()
                .expect("a resource read encodes");
            // An ARM document without `name` is named by its file, as when it was read.
            match decode(value, "plant") {
                Ok(Decoded::Resource(again)) => assert_eq!(*again, located.resource),
                other => panic!(
                    "{} does not decode back: {other:?}",
                    located.resource.label()
                ),
            }
        }
        let unreadable = Unreadable {
            files: loaded.unreadable,
            resources: loaded.undecodable,
            partial: loaded.partial,
        };
        let first = model::build(&loaded.definitions, &unreadable, &MemEnv, &Accepted::new());
        let second = model::build(&loaded.definitions, &unreadable, &MemEnv, &first.accepted);
        assert!(
            model::diff(&first.plan, &second.plan).is_empty(),
            "the plan changed"
        );
    }
});
