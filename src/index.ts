// vifd's library surface grows here as modules land; see README "Status".
export {};
