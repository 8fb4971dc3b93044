package proc

// stillActive is GetExitCodeProcess's answer for a process that has not
// ended (STILL_ACTIVE, 259).
const stillActive = 259
