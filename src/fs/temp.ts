/** Names the tool gives its temporary files and folders: recognisable, so a crash's leftovers can be swept. */
export const TEMP_MARK = '.app-media-tmp-';
/**
 * A folder the tool set aside and could not empty because someone put files in it meanwhile:
 * kept under this name (never swept, never cleaned) and named in a warning.
 */
export const KEPT_MARK = '.app-media-kept-';
