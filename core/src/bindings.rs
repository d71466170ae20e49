//! The types of the contract a plugin is built against (`wit/`, 0.4.0), as
//! wasmtime's bindgen makes them: every module that speaks of a service's
//! description, options or capabilities uses them, so they sit below all of
//! them (the runtime, which loads plugins, is one user among others).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tails:server/tails-service@0.4.0",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    // Exports are called as futures so that a deadline can drop them; our
    // own imports stay synchronous (the broker blocks, on its own timeouts).
    exports: { default: async },
});
