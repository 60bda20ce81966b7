/** Names the tool gives its temporary files and folders: recognisable, so a crash's leftovers can be swept. */
export const TEMP_MARK = '.app-media-tmp-';
